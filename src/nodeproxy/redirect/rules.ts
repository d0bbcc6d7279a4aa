// The capture rules the node proxy installs inside each pod's network namespace (pure: text in,
// text out). Outbound TCP goes to 15001 and DNS to 15053; inbound TCP goes to 15006 except HBONE
// on 15008; any other new traffic (UDP but DNS, ICMP, IPv6) is dropped both ways. The proxy's own sockets carry PROXY_MARK and skip capture; pod processes cannot set a
// mark (no CAP_NET_ADMIN), so they cannot skip it.

export const PROXY_MARK = 0x539;
export const MARK_MASK = 0xfff;
export const TABLE = 'ambit_capture';
/** Named counters of what the pod's filter chains drop (UDP but DNS, ICMP, anything uncaptured). */
export const DROP_COUNTERS = { out: 'dropped_out', in: 'dropped_in' } as const;

export const PORTS = {
  outbound: 15001,
  inboundPlaintext: 15006,
  hbone: 15008,
  dns: 15053,
} as const;

/** An nft script that (re)creates the capture table atomically: delete-if-present, then define. */
export function captureRules(): string {
  const skipProxy = `meta mark & ${hex(MARK_MASK)} == ${hex(PROXY_MARK)} return`;
  return [
    `table ip ${TABLE}`,
    `delete table ip ${TABLE}`,
    `table ip ${TABLE} {`,
    // What the filter chains drop is counted, so the proxy can report it (invariant 8).
    `  counter ${DROP_COUNTERS.out} {}`,
    `  counter ${DROP_COUNTERS.in} {}`,
    '  chain output {',
    '    type nat hook output priority -100; policy accept;',
    `    ${skipProxy}`,
    '    oifname "lo" return',
    `    udp dport 53 redirect to :${PORTS.dns}`,
    `    tcp dport 53 redirect to :${PORTS.dns}`,
    `    meta l4proto tcp redirect to :${PORTS.outbound}`,
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority -100; policy accept;',
    '    iifname "lo" return',
    `    tcp dport ${PORTS.hbone} return`,
    `    meta l4proto tcp redirect to :${PORTS.inboundPlaintext}`,
    '  }',
    // What capture cannot carry must not leave or arrive in clear: after NAT, every new packet
    // of the pod's apps goes to the proxy over lo; anything else new (UDP but DNS, ICMP) is dropped.
    '  chain filter_output {',
    '    type filter hook output priority 0; policy drop;',
    '    oifname "lo" accept',
    // Redirected packets carry their new destination here, but may still show the old interface.
    '    ip daddr 127.0.0.0/8 accept',
    `    ${skipProxy.replace(' return', ' accept')}`,
    '    ct state established,related accept',
    `    counter name ${DROP_COUNTERS.out} drop`,
    '  }',
    '  chain filter_input {',
    '    type filter hook input priority 0; policy drop;',
    '    iifname "lo" accept',
    '    ct state established,related accept',
    '    meta l4proto tcp accept',
    `    counter name ${DROP_COUNTERS.in} drop`,
    '  }',
    '}',
    // No IPv6 in the mesh: none of it in or out of a captured pod.
    `table ip6 ${TABLE}`,
    `delete table ip6 ${TABLE}`,
    `table ip6 ${TABLE} {`,
    '  chain filter_output { type filter hook output priority 0; policy drop; oifname "lo" accept; }',
    '  chain filter_input { type filter hook input priority 0; policy drop; iifname "lo" accept; }',
    '}',
    '',
  ].join('\n');
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
