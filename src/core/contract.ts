/**
 * The stream contract of DESIGN §3 as a reusable checker: used by tests, the demo and the CLI's self-check.
 * Returns every problem found rather than stopping at the first, so a failing test says all that is wrong.
 */
import { isTerminal, validateEvent, type CenecaEvent } from './events';

export function findContractProblems(stream: readonly unknown[], options: { requireTerminal?: boolean } = {}): string[] {
  const problems: string[] = [];
  const requireTerminal = options.requireTerminal ?? true;
  const rowsSeen = new Map<string, { rows: number; columns: number }>();
  let session: string | undefined;
  let previous: CenecaEvent | undefined;
  let terminalAt = -1;
  const operations = new Map<string, 'running' | 'completed'>();

  stream.forEach((raw, index) => {
    const checked = validateEvent(raw);
    if (!checked.ok) {
      problems.push(`event #${index + 1}: ${checked.message}`);
      return;
    }
    const event = checked.event;
    session ??= event.session;
    if (event.session !== session) problems.push(`event ${event.id}: session ${event.session} differs from ${session}`);
    const expectedId = (previous?.id ?? 0) + 1;
    if (event.id !== expectedId) problems.push(`event #${index + 1}: id ${event.id}, expected ${expectedId}`);
    if (previous && event.ts < previous.ts) problems.push(`event ${event.id}: ts ${event.ts} goes back from ${previous.ts}`);
    if (terminalAt >= 0) problems.push(`event ${event.id} (${event.type}) follows the terminal event`);
    if (isTerminal(event)) terminalAt = index;
    if (event.type === 'partial_results') checkRowBatch(event, rowsSeen, problems);
    if (event.operationId !== undefined) checkOperationNesting(event, operations, problems);
    previous = event;
  });

  if (requireTerminal && terminalAt < 0 && stream.length > 0) problems.push('stream has no terminal event (complete or fatal error)');
  if (requireTerminal && stream.length === 0) problems.push('stream is empty');
  return problems;
}

/** An operation's events come between its `operation_started` and its `operation_completed`, each of those once. */
function checkOperationNesting(event: CenecaEvent, operations: Map<string, 'running' | 'completed'>, problems: string[]): void {
  const id = event.operationId!;
  const state = operations.get(id);
  if (event.type === 'operation_started') {
    if (state) problems.push(`event ${event.id}: operation ${id} started twice`);
    operations.set(id, 'running');
    return;
  }
  if (state === undefined) problems.push(`event ${event.id} (${event.type}) of operation ${id} comes before its operation_started`);
  else if (state === 'completed') problems.push(`event ${event.id} (${event.type}) of operation ${id} comes after its operation_completed`);
  if (event.type === 'operation_completed') operations.set(id, 'completed');
}

function checkRowBatch(
  event: Extract<CenecaEvent, { type: 'partial_results' }>,
  seen: Map<string, { rows: number; columns: number }>,
  problems: string[],
): void {
  const state = seen.get(event.resultId);
  if (!state && !event.columns) problems.push(`event ${event.id}: first batch of ${event.resultId} has no columns`);
  const columns = event.columns?.length ?? state?.columns ?? 0;
  if (state && event.columns && event.columns.length < state.columns) {
    problems.push(`event ${event.id}: column list of ${event.resultId} shrank`);
  }
  const expectedOffset = state?.rows ?? 0;
  if (event.offset !== expectedOffset) problems.push(`event ${event.id}: offset ${event.offset}, expected ${expectedOffset}`);
  for (const row of event.rows) {
    if (row.length > columns) {
      problems.push(`event ${event.id}: a row has ${row.length} cells for ${columns} columns`);
      break;
    }
  }
  seen.set(event.resultId, { rows: expectedOffset + event.rows.length, columns });
}

export function assertStreamContract(stream: readonly unknown[], options?: { requireTerminal?: boolean }): void {
  const problems = findContractProblems(stream, options);
  if (problems.length > 0) throw new Error(`stream breaks the event contract:\n  ${problems.slice(0, 20).join('\n  ')}`);
}
