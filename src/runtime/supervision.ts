// Supervision as a pure decision: given the strategy and the recent restart
// history, restart after a back-off or stop. The host applies the decision.
import type { SupervisionStrategy } from './types';

export type Directive = { kind: 'restart'; afterMs: number } | { kind: 'stop'; reason: string };

/**
 * @param restartTimes when earlier restarts happened (ms), oldest first.
 */
export function decide(strategy: SupervisionStrategy, restartTimes: readonly number[], now: number): Directive {
  if (strategy.kind === 'stop') return { kind: 'stop', reason: 'strategy is stop' };
  const recent = restartTimes.filter((t) => now - t < strategy.withinMs).length;
  if (recent >= strategy.maxRestarts) {
    return { kind: 'stop', reason: `${recent} restarts within ${strategy.withinMs} ms` };
  }
  const afterMs = Math.min(strategy.maxBackoffMs, strategy.minBackoffMs * 2 ** recent);
  return { kind: 'restart', afterMs };
}
