import type { CommandResult, CommandRunner } from '../../../src/snapshot/command-runner.js';

type Handler = (argv: readonly string[]) => Partial<CommandResult> | undefined;

/**
 * A CommandRunner that records every command and answers from handlers (first match wins);
 * commands no handler answers succeed with empty output.
 */
export class FakeRunner {
  readonly calls: string[][] = [];
  private readonly handlers: Handler[] = [];

  on(match: (argv: readonly string[]) => boolean, result: Partial<CommandResult> | ((argv: readonly string[]) => Partial<CommandResult>)): this {
    this.handlers.push((argv) => (match(argv) ? (typeof result === 'function' ? result(argv) : result) : undefined));
    return this;
  }

  /** Answers commands whose argv starts with `prefix`. */
  onPrefix(prefix: readonly string[], result: Partial<CommandResult> | ((argv: readonly string[]) => Partial<CommandResult>)): this {
    return this.on((argv) => prefix.every((p, i) => argv[i] === p), result);
  }

  readonly run: CommandRunner = async (argv) => {
    this.calls.push([...argv]);
    for (const h of this.handlers) {
      const r = h(argv);
      if (r) return { code: 0, stdout: '', stderr: '', ...r };
    }
    return { code: 0, stdout: '', stderr: '' };
  };

  /** The commands run, as strings, without the lvs/vgs polls (for order checks). */
  actions(): string[] {
    return this.calls.filter((c) => c[0] !== 'lvs' && c[0] !== 'vgs' && c[0] !== 'blkid').map((c) => c.join(' '));
  }
}

/** An `lvs --reportformat json` answer. */
export function lvsJson(rows: Array<Record<string, string>>): string {
  return JSON.stringify({ report: [{ lv: rows }] });
}

export function vgsJson(rows: Array<Record<string, string>>): string {
  return JSON.stringify({ report: [{ vg: rows }] });
}

/** One lvs row with defaults of a plain, active, linear LV. */
export function lvRow(o: Partial<Record<string, string>> & { vg_name: string; lv_name: string }): Record<string, string> {
  return {
    lv_path: `/dev/${o.vg_name}/${o.lv_name}`,
    lv_dm_path: `/dev/mapper/${o.vg_name}-${o.lv_name}`,
    lv_attr: '-wi-ao----',
    lv_size: '335544320',
    origin: '',
    pool_lv: '',
    data_percent: '',
    metadata_percent: '',
    segtype: 'linear',
    lv_tags: '',
    lv_kernel_major: '254',
    lv_kernel_minor: '0',
    ...o,
  } as Record<string, string>;
}
