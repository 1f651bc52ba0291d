// The RFC 6902 JSONPatch that turns the pod the API server sent into the injected pod (what the webhook returns).

import type { KubeObject } from './inject-pod';

/** One RFC 6902 operation (only the ones the injector emits). */
export interface JsonPatchOperation {
  readonly op: 'add' | 'replace';
  /** JSON Pointer (RFC 6901). */
  readonly path: string;
  readonly value: unknown;
}

/** The fields injectPod may change; everything else is left to the API server untouched. */
const PATCHED_FIELDS: ReadonlyArray<readonly [string, string]> = [
  ['metadata', 'annotations'],
  ['spec', 'initContainers'],
  ['spec', 'containers'],
  ['spec', 'volumes'],
];

/**
 * The patch from `before` to `after` (both pods), one whole-field `add` or `replace` per changed field, in a fixed
 * order. Whole fields rather than per-element ops: the API server applies the patch to exactly the object it sent,
 * and whole fields cannot be misapplied by index.
 */
export function podPatch(before: KubeObject, after: KubeObject): JsonPatchOperation[] {
  const ops: JsonPatchOperation[] = [];
  for (const [parent, field] of PATCHED_FIELDS) {
    const was = (before[parent] as KubeObject | undefined)?.[field];
    const now = (after[parent] as KubeObject | undefined)?.[field];
    if (now === undefined || JSON.stringify(was) === JSON.stringify(now)) continue;
    if (before[parent] === undefined) ops.push({ op: 'add', path: `/${parent}`, value: {} });
    ops.push({ op: was === undefined ? 'add' : 'replace', path: `/${parent}/${field}`, value: now });
  }
  return ops;
}
