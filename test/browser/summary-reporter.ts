/**
 * The closing lines of `npm run test:browser`: one line per top-level block
 * (a backend of the conformance suite, the demo walk-through, each backend
 * the demo trains on), then the totals as a plain `N passed, N failed` line.
 */
import type { Reporter, TestCase, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const lines: string[] = [];
    const total = { passed: 0, failed: 0, skipped: 0 };
    for (const m of modules) {
      for (const suite of m.children.suites()) {
        const n = { passed: 0, failed: 0, skipped: 0 };
        for (const t of suite.children.allTests() as Iterable<TestCase>) {
          const state = t.result().state;
          if (state === 'passed') n.passed++;
          else if (state === 'failed') n.failed++;
          else n.skipped++;
        }
        total.passed += n.passed;
        total.failed += n.failed;
        total.skipped += n.skipped;
        const verdict = n.failed > 0 ? 'FAIL' : n.passed === 0 ? 'SKIP' : 'ok  ';
        lines.push(`  ${verdict} ${suite.name}: ${n.passed} passed, ${n.failed} failed${n.skipped ? `, ${n.skipped} skipped` : ''}`);
      }
    }
    console.log(`\nbrowser tests (Chromium):\n${lines.join('\n')}`);
    console.log(`browser: ${total.passed} passed, ${total.failed} failed${total.skipped ? `, ${total.skipped} skipped` : ''}`);
  }
}
