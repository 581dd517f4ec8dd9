import { readFileSync } from 'node:fs';

/**
 * The kernel's cap on a socket's send buffer (net.core.wmem_max), which the shim's SO_SNDBUF of `--socket-buffer`
 * cannot exceed without privileges; undefined where /proc does not say.
 */
export function sendBufferCap(path = '/proc/sys/net/core/wmem_max'): number | undefined {
  try {
    const n = Number(readFileSync(path, 'utf8').trim());
    return Number.isSafeInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

/** The line saying that `wanted` is capped by the kernel, with the sysctl that lifts the cap; undefined when it is not. */
export function sendBufferNote(wanted: number, cap = sendBufferCap()): string | undefined {
  if (wanted <= 0 || cap === undefined || cap >= wanted) return undefined;
  return `each file's send buffer is capped at ${cap} bytes by net.core.wmem_max (--socket-buffer asks ${wanted}); ` +
    `\`sysctl -w net.core.wmem_max=${wanted}\` lifts the cap (faster for programs that write small blocks)`;
}
