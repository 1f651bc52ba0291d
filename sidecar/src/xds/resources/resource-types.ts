// The four xDS resource types (LDS, RDS, CDS, EDS) by type URL.

import { clusterLoadAssignmentResource } from './cluster-load-assignment-resource';
import { clusterResource } from './cluster-resource';
import { listenerResource } from './listener-resource';
import type { XdsResourceType } from './resource-type';
import { routeConfigurationResource } from './route-configuration-resource';

/** Every resource type the sidecar subscribes to, keyed by type URL, in dependency order (LDS -> RDS, CDS -> EDS). */
export const resourceTypes: ReadonlyMap<string, XdsResourceType<unknown>> = new Map<string, XdsResourceType<unknown>>([
  [listenerResource.typeUrl, listenerResource as XdsResourceType<unknown>],
  [routeConfigurationResource.typeUrl, routeConfigurationResource as XdsResourceType<unknown>],
  [clusterResource.typeUrl, clusterResource as XdsResourceType<unknown>],
  [clusterLoadAssignmentResource.typeUrl, clusterLoadAssignmentResource as XdsResourceType<unknown>],
]);
