// Folds each case of a fixture file (written by tests/js.rs from the Rust
// contract crate) with the page's fold and prints the resulting snapshots.
import { readFileSync } from "node:fs";
import { applyMessage, emptyState, toSnapshot } from "../../assets/fold.mjs";

const cases = JSON.parse(readFileSync(process.argv[2], "utf8"));
const out = cases.map(({ flowId, messages }) => {
  const s = emptyState();
  for (const m of messages) applyMessage(s, m, flowId);
  return toSnapshot(s, flowId);
});
process.stdout.write(JSON.stringify(out));
