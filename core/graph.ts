/** The dependency graph of components: unknown ids and cycles are named at config load. */

export interface GraphNode {
  id: string;
  dependsOn: readonly string[];
}

/** Problems with the graph, each naming the component path and the offending ids. */
export function graphProblems(nodes: readonly GraphNode[]): string[] {
  const problems: string[] = [];
  const index = new Map<string, number>();
  nodes.forEach((node, i) => {
    const earlier = index.get(node.id);
    if (earlier !== undefined) problems.push(`components[${i}].id: duplicate component id "${node.id}" (also components[${earlier}])`);
    else index.set(node.id, i);
  });
  nodes.forEach((node, i) => {
    node.dependsOn.forEach((dep, j) => {
      if (dep === node.id) problems.push(`components[${i}].dependsOn[${j}]: "${node.id}" cannot depend on itself`);
      else if (!index.has(dep)) problems.push(`components[${i}].dependsOn[${j}]: unknown component "${dep}"`);
    });
  });
  const cycle = findCycle(nodes);
  if (cycle) problems.push(`dependsOn: dependency cycle ${cycle.join(' -> ')}`);
  return problems;
}

/** One dependency cycle as a closed path (a -> b -> a), or undefined when the graph is acyclic. */
export function findCycle(nodes: readonly GraphNode[]): string[] | undefined {
  const deps = new Map(nodes.map((n) => [n.id, n.dependsOn.filter((d) => d !== n.id)]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    const seen = state.get(id);
    if (seen === 'done') return undefined;
    if (seen === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dep of deps.get(id) ?? []) {
      if (!deps.has(dep)) continue;
      const found = visit(dep);
      if (found) return found;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const node of nodes) {
    const found = visit(node.id);
    if (found) return found;
  }
  return undefined;
}

/** Components in levels: each level depends only on earlier ones. Assumes an acyclic graph. */
export function topologicalLevels(nodes: readonly GraphNode[]): string[][] {
  const ids = new Set(nodes.map((n) => n.id));
  const remaining = new Map(nodes.map((n) => [n.id, new Set(n.dependsOn.filter((d) => ids.has(d)))]));
  const levels: string[][] = [];
  while (remaining.size > 0) {
    const ready = [...remaining]
      .filter(([, deps]) => deps.size === 0)
      .map(([id]) => id)
      .sort();
    if (ready.length === 0) throw new Error('dependency cycle');
    for (const id of ready) remaining.delete(id);
    for (const deps of remaining.values()) for (const id of ready) deps.delete(id);
    levels.push(ready);
  }
  return levels;
}

/** The ids reachable from `start` by `next`, `start` itself left out, sorted. */
function walk(start: string, next: (id: string) => readonly string[]): string[] {
  const seen = new Set<string>();
  const stack = [...next(start)];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    if (cur === start || seen.has(cur)) continue;
    seen.add(cur);
    stack.push(...next(cur));
  }
  return [...seen].sort();
}

/**
 * Everything an id depends on, directly or not, as `relatives(nodes, id).dependencies`, with the
 * graph indexed once: for asking it of every component of a big config (each relatives call
 * indexes the whole graph again).
 */
export function dependenciesOf(nodes: readonly GraphNode[]): (id: string) => string[] {
  const deps = new Map(nodes.map((n) => [n.id, n.dependsOn]));
  return (id) => walk(id, (x) => deps.get(x) ?? []);
}

/** Everything `id` depends on, directly or not, and everything that depends on it. */
export function relatives(nodes: readonly GraphNode[], id: string): { dependencies: string[]; dependents: string[] } {
  const dependentsOf = (x: string) => nodes.filter((n) => n.dependsOn.includes(x)).map((n) => n.id);
  return { dependencies: dependenciesOf(nodes)(id), dependents: walk(id, dependentsOf) };
}
