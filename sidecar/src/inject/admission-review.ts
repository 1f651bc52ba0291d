// AdmissionReview v1 in, AdmissionReview v1 out: injectPod's result as a JSONPatch, a denial, or a plain allow.

import type { InjectSettings } from './inject-settings';
import { injectPod, type KubeObject } from './inject-pod';
import { podPatch } from './json-patch';

/** What the injector answers, and what it logs. */
export interface AdmissionOutcome {
  /** The AdmissionReview to send back (HTTP 200 even for a denial, as the API server expects). */
  readonly review: KubeObject;
  /** `injected`, `skipped: <reason>`, `refused: <errors>` or `bad request: <why>` (for the log). */
  readonly summary: string;
  /** False for a malformed request: the server answers 400. */
  readonly wellFormed: boolean;
}

/**
 * Handles one AdmissionReview (admission.k8s.io/v1) for a Pod CREATE. Injected: `allowed` with a base64 JSONPatch;
 * skipped: `allowed` without a patch (warnings passed on, `kubectl` prints them); refused (invalid annotations,
 * conflicts): `allowed: false` with every problem in `status.message`, like Istio's injector. Pure.
 */
export function reviewAdmission(body: unknown, settings: InjectSettings, injectorNamespace?: string): AdmissionOutcome {
  const review = body !== null && typeof body === 'object' ? (body as KubeObject) : {};
  const request = review['request'] as KubeObject | undefined;
  if (review['kind'] !== 'AdmissionReview' || request === undefined || typeof request['uid'] !== 'string') {
    return { review: {}, summary: 'bad request: not an AdmissionReview with a request.uid', wellFormed: false };
  }
  const uid = request['uid'];
  const respond = (response: KubeObject, summary: string): AdmissionOutcome => ({
    review: { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, ...response } },
    summary,
    wellFormed: true,
  });
  const kind = request['kind'] as KubeObject | undefined;
  const pod = request['object'] as KubeObject | undefined;
  if (kind?.['kind'] !== 'Pod' || request['operation'] !== 'CREATE' || pod === undefined || pod === null) {
    return respond({ allowed: true }, `skipped: not a Pod CREATE (${String(kind?.['kind'])} ${String(request['operation'])})`);
  }
  const podMeta = (pod['metadata'] ?? {}) as KubeObject;
  const namespace = typeof request['namespace'] === 'string' && request['namespace'] !== '' ? request['namespace'] : String(podMeta['namespace'] ?? 'default');
  const result = injectPod(pod, settings, { namespace, ...(injectorNamespace === undefined ? {} : { injectorNamespace }) });
  switch (result.kind) {
    case 'refused':
      return respond(
        { allowed: false, status: { code: 400, reason: 'BadRequest', message: `meshlet: cannot inject the sidecar: ${result.errors.join('; ')}` } },
        `refused: ${result.errors.join('; ')}`,
      );
    case 'skipped':
      return respond({ allowed: true, ...(result.warnings.length > 0 ? { warnings: result.warnings.map((w) => `meshlet: ${w}`) } : {}) }, `skipped: ${result.reason}`);
    case 'injected': {
      const patch = Buffer.from(JSON.stringify(podPatch(pod, result.pod))).toString('base64');
      return respond(
        { allowed: true, patchType: 'JSONPatch', patch, ...(result.warnings.length > 0 ? { warnings: result.warnings.map((w) => `meshlet: ${w}`) } : {}) },
        'injected',
      );
    }
  }
}
