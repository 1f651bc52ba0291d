// What the Kubernetes commands (`iptables`, `inject`, `injector`) need from main.ts: the flags they pass and the actions.

/** `meshlet iptables` flags, as typed (validated by the action). */
export interface IptablesCommandFlags {
  readonly proxyUid?: string;
  readonly proxyGid?: string;
  readonly outboundPort?: string;
  readonly inboundPort?: string;
  readonly includeInboundPorts?: string;
  readonly excludeInboundPorts?: string;
  readonly excludeOutboundPorts?: string;
  readonly excludeOutboundIpRanges?: string;
  readonly mode?: string;
  readonly ipv6?: boolean;
  readonly dryRun?: boolean;
}

/** `meshlet inject` flags. */
export interface InjectCommandFlags {
  /** `-f FILE`; `-` = stdin (the Helm post-renderer case). */
  readonly file: string;
  /** `--config FILE`: the injection settings (the chart's ConfigMap `settings.yaml`); default: built-in defaults. */
  readonly config?: string;
  /** `--namespace`: for objects that set none; default `default`. */
  readonly namespace?: string;
}

/** `meshlet injector` flags. */
export interface InjectorCommandFlags {
  readonly config?: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  /** `HOST:PORT`, default `0.0.0.0:9443`. */
  readonly listen?: string;
  /** The injector's namespace (env POD_NAMESPACE): never injected. */
  readonly namespace?: string;
}

/** Where the commands write (the same shape as CliIo). */
export interface KubernetesCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
}

/** Implemented in inject/ and wired by main.ts; each resolves with the exit code (0 ok, 1 failure, 2 bad input). */
export interface KubernetesActions {
  iptables(flags: IptablesCommandFlags, io: KubernetesCommandIo): number;
  inject(flags: InjectCommandFlags, io: KubernetesCommandIo): Promise<number>;
  /** Runs until SIGTERM/SIGINT. */
  injector(flags: InjectorCommandFlags, io: KubernetesCommandIo): Promise<number>;
}
