/**
 * Addresses for discovery: which broadcast addresses to use and how node patterns match.
 *
 * Broadcasts go only to the IPv4 broadcast addresses of this machine's interfaces that serve
 * the given local address (all non-loopback interfaces when none is given), so a program
 * bound to a loopback address never broadcasts on a real network. `DISPY_BROADCAST=none`
 * turns broadcasting off; `DISPY_BROADCAST=10.0.0.255,…` sets the addresses explicitly.
 *
 * @example
 * broadcastAddresses('192.168.3.7'); // ['192.168.3.255'] on a /24
 * matchesPattern('192.168.3.*', '192.168.3.14'); // true
 */
import os from 'node:os';

function ipv4ToInt(a: string): number {
  return a.split('.').reduce((n, p) => (n << 8) + Number(p), 0) >>> 0;
}

function intToIpv4(n: number): string {
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

export function isIpv4(s: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(s) && s.split('.').every((p) => Number(p) <= 255);
}

/** Broadcast address of `address` with `netmask`. */
export function broadcastOf(address: string, netmask: string): string {
  return intToIpv4((ipv4ToInt(address) | ~ipv4ToInt(netmask)) >>> 0);
}

export function broadcastAddresses(
  localAddr?: string,
  env: NodeJS.ProcessEnv = process.env,
  ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): string[] {
  const setting = env.DISPY_BROADCAST?.trim();
  if (setting === 'none' || setting === 'off') return [];
  if (setting)
    return setting
      .split(',')
      .map((s) => s.trim())
      .filter(isIpv4);
  const out = new Set<string>();
  const any = !localAddr || localAddr === '0.0.0.0';
  for (const list of Object.values(ifaces)) {
    for (const i of list ?? []) {
      if (i.family !== 'IPv4' || i.internal) continue;
      if (!any && i.address !== localAddr) continue;
      out.add(broadcastOf(i.address, i.netmask));
    }
  }
  return [...out];
}

/** This machine's first non-internal IPv4 address (127.0.0.1 if there is none). */
export function primaryAddress(
  ifaces: NodeJS.Dict<os.NetworkInterfaceInfo[]> = os.networkInterfaces(),
): string {
  for (const list of Object.values(ifaces)) {
    for (const i of list ?? []) if (i.family === 'IPv4' && !i.internal) return i.address;
  }
  return '127.0.0.1';
}

/** Whether a node pattern has a wildcard (`*`), i.e. needs discovery by broadcast. */
export function isWildcard(pattern: string): boolean {
  return pattern.includes('*');
}

/** `192.168.3.*` → RegExp matching addresses starting with 192.168.3. */
export function patternRegex(pattern: string): RegExp {
  const esc = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${esc}$`);
}

export function matchesPattern(pattern: string, address: string, name?: string): boolean {
  const re = patternRegex(pattern);
  return re.test(address) || (name !== undefined && re.test(name));
}
