// Cluster load-balancing policy: `load_balancing_policy` typed extensions (first supported wins) or the legacy `lb_policy` enum.

import type { ErrorCollector } from '../../core/validation';
import { PEAK_EWMA_TYPE_URL, type ConsistentHashingConfig, type LbPolicyConfig, type SlowStartConfig } from '../../config/cluster-config';
import { durationMsOr } from './duration-ms';
import type { DecodeContext } from './resource-type';
import { unpackTypedConfig, type UnpackedConfig } from './typed-config';
import type { Cluster__Output } from '../../../../xds-protos/generated/envoy/config/cluster/v3/Cluster';
import type { LoadBalancingPolicy__Output } from '../../../../xds-protos/generated/envoy/config/cluster/v3/LoadBalancingPolicy';
import type { LeastRequest__Output } from '../../../../xds-protos/generated/envoy/extensions/load_balancing_policies/least_request/v3/LeastRequest';
import type { RingHash__Output } from '../../../../xds-protos/generated/envoy/extensions/load_balancing_policies/ring_hash/v3/RingHash';
import type { Maglev__Output } from '../../../../xds-protos/generated/envoy/extensions/load_balancing_policies/maglev/v3/Maglev';
import type { RoundRobin__Output } from '../../../../xds-protos/generated/envoy/extensions/load_balancing_policies/round_robin/v3/RoundRobin';
import type { WrrLocality__Output } from '../../../../xds-protos/generated/envoy/extensions/load_balancing_policies/wrr_locality/v3/WrrLocality';
import type { SlowStartConfig__Output } from '../../../../xds-protos/generated/envoy/extensions/load_balancing_policies/common/v3/SlowStartConfig';
import type { RuntimeDouble__Output } from '../../../../xds-protos/generated/envoy/config/core/v3/RuntimeDouble';

const P = 'type.googleapis.com/envoy.extensions.load_balancing_policies.';
const ROUND_ROBIN = `${P}round_robin.v3.RoundRobin`;
const LEAST_REQUEST = `${P}least_request.v3.LeastRequest`;
const RANDOM = `${P}random.v3.Random`;
const RING_HASH = `${P}ring_hash.v3.RingHash`;
const MAGLEV = `${P}maglev.v3.Maglev`;
const WRR_LOCALITY = `${P}wrr_locality.v3.WrrLocality`;
const CLUSTER_PROVIDED = `${P}cluster_provided.v3.ClusterProvided`;

export const DEFAULT_MIN_RING_SIZE = 1024;
export const DEFAULT_MAX_RING_SIZE = 8_388_608;
export const DEFAULT_MAGLEV_TABLE_SIZE = 65_537;
export const DEFAULT_PEAK_EWMA_DECAY_MS = 10_000;
export const DEFAULT_PEAK_EWMA_RTT_MS = 30;

/** The chosen policy, plus whether EDS locality weights apply (wrr_locality or a locality_weighted_lb_config). */
export interface DecodedLbPolicy {
  readonly policy: LbPolicyConfig;
  readonly localityWeighted: boolean;
}

function runtimeDouble(r: RuntimeDouble__Output | null | undefined, fallback: number): number {
  // Envoy: a negative or NaN bias falls back to 1.0.
  if (r === null || r === undefined || !Number.isFinite(r.default_value) || r.default_value < 0) return fallback;
  return r.default_value;
}

function slowStart(s: SlowStartConfig__Output | null | undefined): SlowStartConfig | null {
  if (s === null || s === undefined) return null;
  const aggression = s.aggression?.default_value;
  return {
    windowMs: durationMsOr(s.slow_start_window, 0),
    aggression: aggression === undefined || !(aggression > 0) ? 1 : aggression,
    minWeightPercent: s.min_weight_percent?.value ?? 10,
  };
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function ringHash(min: number, max: number, fn: string, ch: ConsistentHashingConfig, errors: ErrorCollector): LbPolicyConfig | null {
  if (min > max) {
    errors.add(`minimum_ring_size (${min}) must not exceed maximum_ring_size (${max})`, 'minimum_ring_size');
    return null;
  }
  return { kind: 'ring_hash', minimumRingSize: min, maximumRingSize: max, hashFunction: fn === 'MURMUR_HASH_2' ? 'MURMUR_HASH_2' : 'XX_HASH', consistentHashing: ch };
}

function maglev(tableSize: number, ch: ConsistentHashingConfig, errors: ErrorCollector): LbPolicyConfig | null {
  if (!isPrime(tableSize)) {
    errors.add(`table_size ${tableSize} must be a prime number`, 'table_size');
    return null;
  }
  return { kind: 'maglev', tableSize, consistentHashing: ch };
}

/** One typed policy; undefined = not a policy we support (try the next one), null = supported but invalid. */
function typedPolicy(ctx: DecodeContext, config: UnpackedConfig, errors: ErrorCollector, depth: number): DecodedLbPolicy | null | undefined {
  if (config.kind === 'struct') {
    if (config.typeUrl !== PEAK_EWMA_TYPE_URL) return undefined;
    const num = (key: string, fallback: number): number => {
      const v = config.value[key];
      if (v === undefined || v === null) return fallback;
      if (typeof v !== 'number' || !(v > 0)) {
        errors.add(`${key} must be a positive number`, `value.${key}`);
        return fallback;
      }
      return v;
    };
    return { policy: { kind: 'peak_ewma', decayMs: num('decay_ms', DEFAULT_PEAK_EWMA_DECAY_MS), defaultRttMs: num('default_rtt_ms', DEFAULT_PEAK_EWMA_RTT_MS) }, localityWeighted: false };
  }
  if (config.kind !== 'proto') return undefined;
  const m = config.message;
  switch (config.typeUrl) {
    case ROUND_ROBIN: {
      const rr = m as unknown as RoundRobin__Output;
      return { policy: { kind: 'round_robin', slowStart: slowStart(rr.slow_start_config) }, localityWeighted: rr.locality_lb_config?.locality_config_specifier === 'locality_weighted_lb_config' };
    }
    case LEAST_REQUEST: {
      const lr = m as unknown as LeastRequest__Output;
      return {
        policy: {
          kind: 'least_request',
          choiceCount: lr.choice_count?.value ?? 2,
          activeRequestBias: runtimeDouble(lr.active_request_bias, 1),
          activeRequestBiasExplicit: lr.active_request_bias !== null,
          selectionMethod: lr.selection_method === 'FULL_SCAN' || lr.enable_full_scan?.value === true ? 'FULL_SCAN' : 'N_CHOICES',
          slowStart: slowStart(lr.slow_start_config),
        },
        localityWeighted: lr.locality_lb_config?.locality_config_specifier === 'locality_weighted_lb_config',
      };
    }
    case RANDOM:
      return { policy: { kind: 'random' }, localityWeighted: false };
    case RING_HASH: {
      const rh = m as unknown as RingHash__Output;
      const ch = rh.consistent_hashing_lb_config;
      const policy = ringHash(
        Number(rh.minimum_ring_size?.value ?? DEFAULT_MIN_RING_SIZE),
        Number(rh.maximum_ring_size?.value ?? DEFAULT_MAX_RING_SIZE),
        rh.hash_function,
        { useHostnameForHashing: ch?.use_hostname_for_hashing ?? rh.use_hostname_for_hashing, hashBalanceFactor: ch?.hash_balance_factor?.value ?? rh.hash_balance_factor?.value ?? null },
        errors,
      );
      return policy === null ? null : { policy, localityWeighted: rh.locality_weighted_lb_config !== null };
    }
    case MAGLEV: {
      const mg = m as unknown as Maglev__Output;
      const ch = mg.consistent_hashing_lb_config;
      const policy = maglev(Number(mg.table_size?.value ?? DEFAULT_MAGLEV_TABLE_SIZE), { useHostnameForHashing: ch?.use_hostname_for_hashing ?? false, hashBalanceFactor: ch?.hash_balance_factor?.value ?? null }, errors);
      return policy === null ? null : { policy, localityWeighted: mg.locality_weighted_lb_config !== null };
    }
    case WRR_LOCALITY: {
      // wrr_locality: locality weights from EDS, endpoints picked by the child policy (gRPC xDS's default wrapper).
      const child = decodeLoadBalancingPolicy(ctx, (m as unknown as WrrLocality__Output).endpoint_picking_policy, errors.at('endpoint_picking_policy'), depth + 1);
      return child === null ? null : { policy: child.policy, localityWeighted: true };
    }
    case CLUSTER_PROVIDED:
      return { policy: { kind: 'cluster_provided' }, localityWeighted: false };
    default:
      return undefined;
  }
}

/**
 * `load_balancing_policy`: the first policy in the list we support wins, as Envoy (unsupported ones are skipped);
 * none supported is an error. `errors` is at the LoadBalancingPolicy.
 */
export function decodeLoadBalancingPolicy(ctx: DecodeContext, lbp: LoadBalancingPolicy__Output | null, errors: ErrorCollector, depth = 0): DecodedLbPolicy | null {
  if (lbp === null || lbp.policies.length === 0) {
    errors.add('load_balancing_policy needs at least one policy');
    return null;
  }
  if (depth > 8) {
    errors.add('load_balancing_policy nesting is too deep');
    return null;
  }
  const seen: string[] = [];
  for (let i = 0; i < lbp.policies.length; i++) {
    const ext = lbp.policies[i]?.typed_extension_config;
    const pe = errors.at('policies').at(i).at('typed_extension_config');
    if (!ext?.typed_config) continue;
    const config = unpackTypedConfig(ctx, ext.typed_config, pe.at('typed_config'));
    if (config === null) return null;
    const decoded = typedPolicy(ctx, config, pe.at('typed_config'), depth);
    if (decoded === undefined) {
      seen.push(config.typeUrl);
      continue;
    }
    return decoded;
  }
  errors.add(`no supported load balancing policy in the list (got ${seen.join(', ') || 'none'})`, 'policies');
  return null;
}

/** The cluster's policy: `load_balancing_policy` when set (it takes precedence), else `lb_policy` with its lb_config. */
export function decodeClusterLbPolicy(ctx: DecodeContext, c: Cluster__Output, errors: ErrorCollector): DecodedLbPolicy | null {
  if (c.load_balancing_policy !== null) return decodeLoadBalancingPolicy(ctx, c.load_balancing_policy, errors.at('load_balancing_policy'));
  const localityWeighted = c.common_lb_config?.locality_config_specifier === 'locality_weighted_lb_config';
  const common = c.common_lb_config?.consistent_hashing_lb_config ?? null;
  const ch: ConsistentHashingConfig = { useHostnameForHashing: common?.use_hostname_for_hashing ?? false, hashBalanceFactor: common?.hash_balance_factor?.value ?? null };
  let policy: LbPolicyConfig | null;
  switch (c.lb_policy) {
    case 'ROUND_ROBIN':
      policy = { kind: 'round_robin', slowStart: slowStart(c.round_robin_lb_config?.slow_start_config) };
      break;
    case 'LEAST_REQUEST': {
      const lr = c.least_request_lb_config ?? null;
      policy = {
        kind: 'least_request',
        choiceCount: lr?.choice_count?.value ?? 2,
        activeRequestBias: runtimeDouble(lr?.active_request_bias, 1),
        activeRequestBiasExplicit: (lr?.active_request_bias ?? null) !== null,
        selectionMethod: 'N_CHOICES',
        slowStart: slowStart(lr?.slow_start_config),
      };
      break;
    }
    case 'RANDOM':
      policy = { kind: 'random' };
      break;
    case 'RING_HASH': {
      const rh = c.ring_hash_lb_config ?? null;
      policy = ringHash(Number(rh?.minimum_ring_size?.value ?? DEFAULT_MIN_RING_SIZE), Number(rh?.maximum_ring_size?.value ?? DEFAULT_MAX_RING_SIZE), rh?.hash_function ?? 'XX_HASH', ch, errors.at('ring_hash_lb_config'));
      break;
    }
    case 'MAGLEV':
      policy = maglev(Number(c.maglev_lb_config?.table_size?.value ?? DEFAULT_MAGLEV_TABLE_SIZE), ch, errors.at('maglev_lb_config'));
      break;
    case 'CLUSTER_PROVIDED':
      policy = { kind: 'cluster_provided' };
      break;
    case 'LOAD_BALANCING_POLICY_CONFIG':
      errors.add('lb_policy LOAD_BALANCING_POLICY_CONFIG needs load_balancing_policy', 'lb_policy');
      return null;
    default:
      errors.add(`unsupported lb_policy ${String(c.lb_policy)}`, 'lb_policy');
      return null;
  }
  return policy === null ? null : { policy, localityWeighted };
}
