// A node:test reporter that writes one JSON line per top-level test: its file and duration.
// scripts/run-tests.ts adds it beside the spec reporter to list the slowest files and to start the
// slowest ones first next time. Plain JavaScript: node loads reporters before tsx's loader is in place.

/** @param {AsyncIterable<{ type: string, data: { nesting: number, file?: string, details: { duration_ms: number } } }>} source */
export default async function* timingReporter(source) {
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { nesting, file, details } = event.data;
    if (nesting === 0 && file) yield JSON.stringify({ file, ms: details.duration_ms }) + '\n';
  }
}
