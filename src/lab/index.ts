// The lab's public door: build, inspect, fault and tear down a namespace-based cluster.
export { labUp, labDown, labIsHealthy, type LabUpOptions } from './lifecycle.js';
export { teardownLab, findLabLeftovers, type TeardownReport } from './teardown.js';
export { labStatus, formatLabStatus, findRunningPod, requireLabState, type LabStatusReport } from './status.js';
export { execInPod, podExecArgv, podLogs, type PodExecResult, type PodExecOptions } from './exec.js';
export { pauseConfig, setNetem, netemArgs, killComponent, restartComponent, type NetemOptions } from './faults.js';
export { runLabAgent } from './agent.js';
export { LabReconciler } from './reconcile.js';
export { parseLabFile, parseLabSpec, defaultLabSpec, type LabSpec, type LabFile, type InternetHost, type LabNodeSpec } from './spec.js';
export { planLab, findNode, type LabPlan, type NodePlan } from './plan.js';
export { PodIpam, parseIPv4, formatIPv4, parseCidr, formatCidr, cidrContains, type IpamSnapshot } from './ipam.js';
export { readLabState, readAgentState, statePath, type LabState, type AgentState, type PodRecord, type ComponentRecord } from './state.js';
export { labPrefix, podNetns, nodeNetns, underlayNetns, controlPlaneNetns, internetNetns, validateLabName } from './names.js';
export { capEff, isAlive, pidsInNetns, netnsInode, POD_UID } from './processes.js';
export { assertLabHost } from './host-check.js';
export { listNetns } from './topology.js';
export { serviceRules, renderKubeProxy, KUBE_PROXY_TABLE, type ServiceRule } from './kube-proxy.js';
export { captureUnderlay } from './capture.js';
