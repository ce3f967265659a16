/**
 * The plan of a cross-database question (DESIGN §2 "Cross-database"): operations, each a question to one source,
 * with the operations it depends on, the upstream columns it uses as parameters, and the columns it produces;
 * then one combine step over their results. Read from the model's JSON as it streams, and checked before anything
 * runs: sources exist, ids are unique, dependencies are acyclic, and every `uses` names a column an upstream
 * operation declares it will produce.
 */
import { z } from 'zod';

export interface PlannedOperation {
  id: string;
  source: string;
  goal: string;
  dependsOn: string[];
  /** Upstream columns this operation takes as parameters, as `operationId.column`. */
  uses: string[];
  /** The columns its result will have (what downstream `uses` and the combine step may name). */
  produces: string[];
}

export interface Plan {
  operations: PlannedOperation[];
  combine: { goal: string };
}

export const MAX_OPERATIONS = 8;
/** Operation ids become table names in the combine step: plain lower-case identifiers. */
const OPERATION_ID = /^[a-z][a-z0-9_]{0,39}$/;
/** SQL keywords a table cannot be named without quotes (`similar`, `order`, `user` …), and the combine step's own name. */
const RESERVED_IDS = new Set(
  ('combine all analyse analyze and any array as asc asymmetric both case cast check collate column constraint create current_catalog current_date current_role ' +
    'current_time current_timestamp current_user default deferrable desc distinct do else end except false fetch for foreign from grant group having in ' +
    'initially intersect into lateral leading limit localtime localtimestamp not null offset on only or order placing primary references returning select ' +
    'session_user some symmetric table then to trailing true union unique user using variadic when where window with similar like ilike join inner outer ' +
    'left right full cross natural between is isnull notnull overlaps qualify pivot unpivot semi anti asof positional').split(' '),
);

const operationSchema = z.strictObject({
  id: z.string({ error: 'id must be a string' }),
  source: z.string({ error: 'source must be a string' }),
  goal: z.string({ error: 'goal must be a string' }).min(1, { error: 'goal must not be empty' }),
  dependsOn: z.array(z.string()).default([]),
  uses: z.array(z.string()).default([]),
  produces: z.array(z.string().min(1)).min(1, { error: 'produces must list the columns of the result' }),
});

const planSchema = z.strictObject({
  operations: z.array(operationSchema).min(1, { error: 'the plan needs at least one operation' }),
  combine: z.strictObject({ goal: z.string().min(1, { error: 'combine.goal must not be empty' }) }),
});

export type PlanCheck = { ok: true; plan: Plan; problems: [] } | { ok: false; problems: string[] };

/** Checks a parsed plan against the sources it may use; every problem is listed, so one correction can fix all. */
export function checkPlan(value: unknown, sourceIds: readonly string[]): PlanCheck {
  const parsed = planSchema.safeParse(value);
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.slice(0, 8).map((issue) => `${issue.path.join('.') || 'the plan'}: ${issue.message}`) };
  }
  const plan: Plan = parsed.data;
  const problems: string[] = [];
  if (plan.operations.length > MAX_OPERATIONS) problems.push(`the plan has ${plan.operations.length} operations; at most ${MAX_OPERATIONS} are allowed`);
  const byId = new Map<string, PlannedOperation>();
  for (const op of plan.operations) {
    if (!OPERATION_ID.test(op.id) || RESERVED_IDS.has(op.id)) problems.push(`operation id "${op.id}" must be a lower-case identifier (letters, digits, _; not an SQL keyword)`);
    if (byId.has(op.id)) problems.push(`operation id "${op.id}" is used twice`);
    byId.set(op.id, op);
    if (!sourceIds.includes(op.source)) problems.push(`operation "${op.id}" names source "${op.source}", which is not one of: ${sourceIds.join(', ')}`);
  }
  for (const op of plan.operations) {
    for (const dep of op.dependsOn) {
      if (!byId.has(dep)) problems.push(`operation "${op.id}" depends on "${dep}", which is not in the plan`);
      if (dep === op.id) problems.push(`operation "${op.id}" depends on itself`);
    }
    for (const use of op.uses) problems.push(...checkUse(op, use, byId));
  }
  const cycle = findCycle(plan.operations);
  if (cycle) problems.push(`the dependencies form a cycle: ${cycle.join(' → ')}`);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, plan, problems: [] };
}

function checkUse(op: PlannedOperation, use: string, byId: ReadonlyMap<string, PlannedOperation>): string[] {
  const dot = use.indexOf('.');
  if (dot <= 0) return [`operation "${op.id}" uses "${use}"; write it as operationId.column`];
  const upstreamId = use.slice(0, dot);
  const column = use.slice(dot + 1);
  const upstream = byId.get(upstreamId);
  if (!upstream) return [`operation "${op.id}" uses "${use}", but there is no operation "${upstreamId}"`];
  if (!op.dependsOn.includes(upstreamId)) return [`operation "${op.id}" uses "${use}" but does not list "${upstreamId}" in dependsOn`];
  if (!upstream.produces.includes(column)) return [`operation "${op.id}" uses "${use}", but "${upstreamId}" produces only: ${upstream.produces.join(', ')}`];
  return [];
}

/** A dependency cycle as a path of ids (first id repeated at the end), or undefined. */
export function findCycle(operations: readonly Pick<PlannedOperation, 'id' | 'dependsOn'>[]): string[] | undefined {
  const deps = new Map(operations.map((op) => [op.id, op.dependsOn]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done' || !deps.has(id)) return undefined;
    if (state.get(id) === 'visiting') return [...path.slice(path.indexOf(id)), id];
    state.set(id, 'visiting');
    path.push(id);
    for (const dep of deps.get(id) ?? []) {
      const cycle = visit(dep);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const op of operations) {
    const cycle = visit(op.id);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * The operations visible in a plan that is still streaming: those whose id, source and goal have arrived (the
 * last one may still be growing), for `plan` events with `final: false`.
 */
export function operationsSoFar(partial: unknown): Array<{ id: string; source: string; goal: string; dependsOn: string[]; uses?: string[] }> {
  const list = (partial as { operations?: unknown } | undefined)?.operations;
  if (!Array.isArray(list)) return [];
  const seen: Array<{ id: string; source: string; goal: string; dependsOn: string[]; uses?: string[] }> = [];
  for (const item of list as unknown[]) {
    const op = (item ?? {}) as Record<string, unknown>;
    if (typeof op.id !== 'string' || typeof op.source !== 'string' || typeof op.goal !== 'string' || !op.id || !op.source) continue;
    const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []);
    const uses = strings(op.uses);
    seen.push({ id: op.id, source: op.source, goal: op.goal, dependsOn: strings(op.dependsOn), ...(uses.length ? { uses } : {}) });
  }
  return seen;
}

/** Splits `operationId.column`. */
export function parseUse(use: string): { operation: string; column: string } {
  const dot = use.indexOf('.');
  return { operation: use.slice(0, dot), column: use.slice(dot + 1) };
}
