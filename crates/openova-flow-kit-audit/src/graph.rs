//! Dependency graphs: cycles as paths, topological order.
//!
//! Edges point from a dependent to its dependency (`a -> b` = "a dependsOn b").

use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A directed graph over HelmRelease names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Graph {
    deps: BTreeMap<String, BTreeSet<String>>,
}

impl Graph {
    /// An empty graph.
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds a node (idempotent).
    pub fn add_node(&mut self, name: &str) {
        self.deps.entry(name.to_string()).or_default();
    }

    /// Adds `from -> to`, adding both nodes.
    pub fn add_edge(&mut self, from: &str, to: &str) {
        self.add_node(to);
        self.deps
            .entry(from.to_string())
            .or_default()
            .insert(to.to_string());
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.deps.len()
    }

    /// `true` without nodes.
    pub fn is_empty(&self) -> bool {
        self.deps.is_empty()
    }

    /// Indices: sorted names and sorted adjacency lists.
    fn indexed(&self) -> (Vec<&str>, Vec<Vec<usize>>) {
        let names: Vec<&str> = self.deps.keys().map(String::as_str).collect();
        let index: BTreeMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let adj = self
            .deps
            .values()
            .map(|ds| ds.iter().map(|d| index[d.as_str()]).collect())
            .collect();
        (names, adj)
    }

    /// Strongly connected components (Tarjan, iterative), each sorted.
    fn sccs(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
        let n = adj.len();
        let mut index = vec![usize::MAX; n];
        let mut low = vec![0; n];
        let mut on_stack = vec![false; n];
        let mut stack = Vec::new();
        let mut next = 0;
        let mut out = Vec::new();
        for root in 0..n {
            if index[root] != usize::MAX {
                continue;
            }
            let mut frames: Vec<(usize, usize)> = vec![(root, 0)];
            index[root] = next;
            low[root] = next;
            next += 1;
            stack.push(root);
            on_stack[root] = true;
            while let Some(&mut (v, ref mut pos)) = frames.last_mut() {
                if let Some(&w) = adj[v].get(*pos) {
                    *pos += 1;
                    if index[w] == usize::MAX {
                        index[w] = next;
                        low[w] = next;
                        next += 1;
                        stack.push(w);
                        on_stack[w] = true;
                        frames.push((w, 0));
                    } else if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                } else {
                    frames.pop();
                    if let Some(&(parent, _)) = frames.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut comp = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            comp.push(w);
                            if w == v {
                                break;
                            }
                        }
                        comp.sort_unstable();
                        out.push(comp);
                    }
                }
            }
        }
        out
    }

    /// Shortest cycle through `start` inside `members` (BFS, neighbours in
    /// name order), as the node sequence starting at `start`.
    fn shortest_cycle_through(
        start: usize,
        adj: &[Vec<usize>],
        members: &[bool],
    ) -> Option<Vec<usize>> {
        let mut parent = vec![usize::MAX; adj.len()];
        let mut seen = vec![false; adj.len()];
        let mut queue = VecDeque::from([start]);
        seen[start] = true;
        while let Some(u) = queue.pop_front() {
            for &w in &adj[u] {
                if w == start {
                    let mut path = vec![u];
                    let mut cur = u;
                    while cur != start {
                        cur = parent[cur];
                        path.push(cur);
                    }
                    path.reverse();
                    return Some(path);
                }
                if members[w] && !seen[w] {
                    seen[w] = true;
                    parent[w] = u;
                    queue.push_back(w);
                }
            }
        }
        None
    }

    /// One cycle per strongly connected component with more than one node
    /// or a self-edge: the component's shortest cycle (ties broken by the
    /// name sequence), written from its bytewise-smallest name. Components
    /// are ordered by that first name.
    pub fn cycles(&self) -> Vec<Vec<String>> {
        let (names, adj) = self.indexed();
        let mut out = Vec::new();
        for comp in Self::sccs(&adj) {
            let v = comp[0];
            if comp.len() == 1 && !adj[v].contains(&v) {
                continue;
            }
            let mut members = vec![false; adj.len()];
            comp.iter().for_each(|&c| members[c] = true);
            let best = comp
                .iter()
                .filter_map(|&s| Self::shortest_cycle_through(s, &adj, &members))
                .map(|mut cyc| {
                    // Indices are in name order, so the minimum index is the smallest name.
                    let min_pos = cyc
                        .iter()
                        .enumerate()
                        .min_by_key(|&(_, &x)| x)
                        .map_or(0, |(p, _)| p);
                    cyc.rotate_left(min_pos);
                    cyc
                })
                .min_by(|a, b| a.len().cmp(&b.len()).then_with(|| a.cmp(b)));
            if let Some(cyc) = best {
                out.push(cyc.into_iter().map(|i| names[i].to_string()).collect());
            }
        }
        out.sort();
        out
    }

    /// Kahn's order, dependencies first, ties by name. Nodes on or behind a
    /// cycle are left out.
    pub fn topological_order(&self) -> Vec<String> {
        let (names, adj) = self.indexed();
        let mut remaining: Vec<usize> = adj.iter().map(Vec::len).collect();
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); adj.len()];
        for (v, ds) in adj.iter().enumerate() {
            for &d in ds {
                dependents[d].push(v);
            }
        }
        let mut ready: BTreeSet<usize> = (0..adj.len()).filter(|&v| remaining[v] == 0).collect();
        let mut order = Vec::new();
        while let Some(v) = ready.pop_first() {
            order.push(names[v].to_string());
            for &u in &dependents[v] {
                remaining[u] -= 1;
                if remaining[u] == 0 {
                    ready.insert(u);
                }
            }
        }
        order
    }
}

/// `a -> b -> a` for a cycle `[a, b]`.
pub fn format_cycle(cycle: &[String]) -> String {
    let mut parts: Vec<&str> = cycle.iter().map(String::as_str).collect();
    if let Some(first) = cycle.first() {
        parts.push(first);
    }
    parts.join(" -> ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graph(edges: &[(&str, &str)]) -> Graph {
        let mut g = Graph::new();
        for (a, b) in edges {
            g.add_edge(a, b);
        }
        g
    }

    #[test]
    fn acyclic_graph_orders_dependencies_first() {
        let g = graph(&[("c", "b"), ("b", "a"), ("d", "a")]);
        assert!(g.cycles().is_empty());
        assert_eq!(g.topological_order(), ["a", "b", "c", "d"]);
        assert_eq!(g.len(), 4);
    }

    #[test]
    fn two_and_three_node_cycles() {
        let g = graph(&[("a", "b"), ("b", "a")]);
        assert_eq!(g.cycles(), [vec!["a", "b"]]);
        let g = graph(&[("z", "x"), ("x", "y"), ("y", "z")]);
        let c = g.cycles();
        assert_eq!(format_cycle(&c[0]), "x -> y -> z -> x");
        assert!(g.topological_order().is_empty());
    }

    #[test]
    fn self_edge() {
        let g = graph(&[("a", "a"), ("b", "a")]);
        assert_eq!(g.cycles(), [vec!["a"]]);
        assert_eq!(format_cycle(&g.cycles()[0]), "a -> a");
    }

    #[test]
    fn acceptance_cycle_is_the_shortest_one() {
        // The kit with bp-cilium depending on bp-openova-flow-proxy.
        let g = graph(&[
            ("bp-cilium", "bp-openova-flow-proxy"),
            ("bp-cert-manager", "bp-cilium"),
            ("bp-flux", "bp-cert-manager"),
            ("bp-cnpg", "bp-flux"),
            ("bp-openova-flow-server", "bp-cilium"),
            ("bp-openova-flow-server", "bp-cert-manager"),
            ("bp-openova-flow-server", "bp-cnpg"),
            ("bp-openova-flow-emitter", "bp-flux"),
            ("bp-openova-flow-proxy", "bp-openova-flow-server"),
        ]);
        let c = g.cycles();
        assert_eq!(c.len(), 1);
        assert_eq!(
            format_cycle(&c[0]),
            "bp-cilium -> bp-openova-flow-proxy -> bp-openova-flow-server -> bp-cilium"
        );
    }

    #[test]
    fn one_cycle_per_component() {
        let g = graph(&[
            ("a", "b"),
            ("b", "a"),
            ("c", "d"),
            ("d", "e"),
            ("e", "c"),
            ("f", "a"),
        ]);
        let c: Vec<String> = g.cycles().iter().map(|c| format_cycle(c)).collect();
        assert_eq!(c, ["a -> b -> a", "c -> d -> e -> c"]);
        // f depends on a cycle: not orderable either.
        assert!(g.topological_order().is_empty());
    }

    #[test]
    fn tie_between_equal_length_cycles_uses_names() {
        // a -> b -> a and a -> c -> a: both length 2 in one component.
        let g = graph(&[("a", "c"), ("c", "a"), ("a", "b"), ("b", "a")]);
        assert_eq!(g.cycles(), [vec!["a", "b"]]);
    }

    #[test]
    fn deep_chain_does_not_overflow() {
        let mut g = Graph::new();
        let names: Vec<String> = (0..20_000).map(|i| format!("n{i:05}")).collect();
        for w in names.windows(2) {
            g.add_edge(&w[1], &w[0]);
        }
        assert!(g.cycles().is_empty());
        assert_eq!(g.topological_order().len(), 20_000);
        // Closing a long chain yields one cycle through all of it.
        let mut g = Graph::new();
        for w in names[..500].windows(2) {
            g.add_edge(&w[1], &w[0]);
        }
        g.add_edge(&names[0], &names[499]);
        assert_eq!(g.cycles()[0].len(), 500);
    }

    proptest! {
        #[test]
        fn cycles_iff_order_is_incomplete(edges in proptest::collection::vec((0u8..8, 0u8..8), 0..20)) {
            let mut g = Graph::new();
            for (a, b) in &edges {
                g.add_edge(&format!("n{a}"), &format!("n{b}"));
            }
            let order = g.topological_order();
            prop_assert_eq!(g.cycles().is_empty(), order.len() == g.len());
            // Order respects every edge among ordered nodes.
            let pos: BTreeMap<&str, usize> = order.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
            for (a, b) in &edges {
                let (a, b) = (format!("n{a}"), format!("n{b}"));
                if let (Some(pa), Some(pb)) = (pos.get(a.as_str()), pos.get(b.as_str())) {
                    prop_assert!(pb < pa);
                }
            }
            // Every reported cycle is a real cycle starting at its smallest name.
            for cyc in g.cycles() {
                let min = cyc.iter().min().unwrap();
                prop_assert_eq!(&cyc[0], min);
                for i in 0..cyc.len() {
                    let (a, b) = (&cyc[i], &cyc[(i + 1) % cyc.len()]);
                    prop_assert!(g.deps[a].contains(b));
                }
            }
        }
    }
}
