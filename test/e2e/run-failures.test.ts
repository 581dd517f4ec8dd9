import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runDiskless } from '../support/cli.js';
import { cliEnv, createTestBucket, listKeys, listOpenUploads, startExtraGateway, testS3, type ExtraGateway } from '../support/s3-test-env.js';

/**
 * Writes 24 MiB to $OUT/data.bin, creates $SYNC/ready, waits for $SYNC/go, writes 24 MiB more,
 * then reports what close() returned: exit 0 if it succeeded, 3 (and the errno) if it failed.
 */
const WRITER = String.raw`
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static char buf[1 << 20];
static void write_mib(int fd, int n) {
  for (int i = 0; i < n; i++) if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) { perror("write"); exit(2); }
}
int main(void) {
  char path[4096], ready[4096], go[4096];
  snprintf(path, sizeof path, "%s/data.bin", getenv("OUT"));
  snprintf(ready, sizeof ready, "%s/ready", getenv("SYNC"));
  snprintf(go, sizeof go, "%s/go", getenv("SYNC"));
  memset(buf, 'x', sizeof buf);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) { perror("open"); return 2; }
  write_mib(fd, 24);
  close(open(ready, O_WRONLY | O_CREAT, 0644));
  while (access(go, F_OK) != 0) usleep(20000);
  write_mib(fd, 24);
  if (close(fd) != 0) { fprintf(stderr, "close failed: %s\n", strerror(errno)); return 3; }
  return 0;
}
`;

/**
 * Checks what a program sees on a virtual file beyond plain writes: lseek and ftruncate fail as on
 * a socket, and the stored file reads back whole once closed. Exit 0 when every answer is as documented.
 */
const PROBE = String.raw`
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#define CHECK(cond, what) do { if (!(cond)) { fprintf(stderr, "%s (errno %s)\n", what, strerror(errno)); return 1; } } while (0)
int main(void) {
  char path[4096], c;
  snprintf(path, sizeof path, "%s/probe.txt", getenv("OUT"));
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  CHECK(fd >= 0, "open");
  CHECK(lseek(fd, 0, SEEK_CUR) == 0, "the position of a new file is 0");
  CHECK(write(fd, "hello\n", 6) == 6, "write");
  CHECK(lseek(fd, 0, SEEK_CUR) == 6 && lseek(fd, 0, SEEK_END) == 6, "position queries answer the size so far");
  CHECK(ftruncate(fd, 6) == 0, "ftruncate to the size so far succeeds");
  CHECK(lseek(fd, 0, SEEK_SET) == -1 && errno == ESPIPE, "lseek back must fail with ESPIPE");
  CHECK(ftruncate(fd, 0) == -1 && errno == EINVAL, "ftruncate must fail with EINVAL");
  CHECK(write(fd, "world\n", 6) == 6, "write after the refused seek");
  CHECK(close(fd) == 0, "close");
  int rd = open(path, O_RDONLY);
  CHECK(rd >= 0, "reopen for reading");
  char back[64] = {0};
  CHECK(read(rd, back, sizeof back) == 12 && memcmp(back, "hello\nworld\n", 12) == 0, "reading the stored file back gives its bytes");
  CHECK(read(rd, &c, 1) == 0, "then end of file");
  CHECK(close(rd) == 0, "close of the reopened fd");
  return 0;
}
`;

describe('diskless run when things go wrong', () => {
  let bucket: string;
  let writer: string;
  let gateways: ExtraGateway[] = [];

  beforeAll(async () => {
    bucket = await createTestBucket('runfail');
    const dir = mkdtempSync(join(tmpdir(), 'diskless-writer-'));
    writeFileSync(join(dir, 'writer.c'), WRITER);
    writer = join(dir, 'writer');
    execFileSync('cc', ['-O2', '-o', writer, join(dir, 'writer.c')]);
  });

  afterEach(async () => {
    for (const g of gateways) await g.stop().catch(() => undefined);
    gateways = [];
  });

  it("makes the program's close() fail and exits 4 within the deadline when the S3 server dies mid-file", async () => {
    const g = await startExtraGateway('runkill');
    gateways.push(g);
    const out = mkdtempSync(join(tmpdir(), 'diskless-out-'));
    rmSync(out, { recursive: true });
    const sync = mkdtempSync(join(tmpdir(), 'diskless-sync-'));
    const stateDir = mkdtempSync(join(tmpdir(), 'diskless-state-'));
    let killedAt = 0;
    const running = runDiskless(
      ['run', '--endpoint-url', g.endpoint, '--request-timeout', '3', '--retry-for', '5', '--state-dir', stateDir,
        '--to', `s3://${bucket}/killed/`, '--dir', out, '--', writer],
      { env: { ...cliEnv(), OUT: out, SYNC: sync }, timeoutMs: 120_000 },
    );
    while (!existsSync(join(sync, 'ready'))) await new Promise((r) => setTimeout(r, 50));
    await g.kill();
    killedAt = Date.now();
    writeFileSync(join(sync, 'go'), '');
    const r = await running;
    expect(r.stderr).toMatch(/close failed: Input\/output error/);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/data.bin could not be stored.*no manifest written/s);
    // --retry-for + --request-timeout, then up to 10 s of cleanup attempts, plus slack.
    expect(Date.now() - killedAt).toBeLessThan((5 + 3 + 10 + 3 + 6) * 1000);
    expect(await listKeys(bucket, 'killed/')).toEqual([]);
    // The upload left open while the server was down is aborted by the next run once it is back.
    await g.stop();
    const back = await startExtraGateway('runkill', g.port);
    gateways.push(back);
    const gc = await runDiskless(['gc', '--endpoint-url', back.endpoint, '--state-dir', stateDir, `s3://${bucket}/killed/`], { env: cliEnv() });
    expect(gc.code, gc.stderr).toBe(0);
    expect(await listOpenUploads(bucket)).toEqual([]);
  }, 120_000);

  it('answers position queries, refuses seeking back (ESPIPE) and truncating (EINVAL), reads the stored file back once closed, and still stores every byte', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'diskless-probe-'));
    writeFileSync(join(dir, 'probe.c'), PROBE);
    execFileSync('cc', ['-O2', '-o', join(dir, 'probe'), join(dir, 'probe.c')]);
    const out = join(dir, 'out');
    const r = await runDiskless(['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/probe/`, '--dir', out, '--', join(dir, 'probe')], {
      env: { ...cliEnv(), OUT: out },
    });
    expect(r.code, r.stderr).toBe(0);
    // The shim says why the seek failed, once, on the program's stderr.
    expect(r.stderr).toMatch(/diskless-shim\[\d+\]: error: lseek on fd \d+ \(offset 0, whence 0\) refused: files under .* opened write-only stream to S3 and must be written from start to end/);
    const got = await runDiskless(['get', '--endpoint-url', testS3().endpoint, `s3://${bucket}/probe/probe.txt`], { env: cliEnv() });
    expect(got.stdout?.toString()).toBe('hello\nworld\n');
  });

  it('stops the command, aborts every upload and commits nothing on SIGTERM, exiting 143', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'diskless-term-')), 'out');
    const sync = mkdtempSync(join(tmpdir(), 'diskless-sync-'));
    let pidOf = 0;
    const running = runDiskless(
      ['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/term/`, '--dir', out, '--', writer],
      { env: { ...cliEnv(), OUT: out, SYNC: sync }, timeoutMs: 60_000, onSpawn: (pid) => void (pidOf = pid) },
    );
    while (!existsSync(join(sync, 'ready'))) await new Promise((r) => setTimeout(r, 50));
    process.kill(pidOf, 'SIGTERM');
    const r = await running;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/interrupted by SIGTERM: nothing was committed/);
    expect(await listKeys(bucket, 'term/')).toEqual([]);
    expect(await listOpenUploads(bucket)).toEqual([]);
  });

  it('a second SIGTERM while the command ignores the first kills the command and exits at once with 143, writing no manifest', async () => {
    const sync = mkdtempSync(join(tmpdir(), 'diskless-sync-'));
    const out = mkdtempSync(join(tmpdir(), 'diskless-term2-'));
    let pidOf = 0;
    const started = Date.now();
    const running = runDiskless(
      ['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/term2/`, '--dir', out, '--',
        'bash', '-c', `trap "" TERM; echo data > "$OUT/f.txt"; touch "$SYNC/ready"; sleep 60`],
      { env: { ...cliEnv(), OUT: out, SYNC: sync }, timeoutMs: 90_000, onSpawn: (pid) => void (pidOf = pid) },
    );
    let exited = false;
    void running.then(() => (exited = true));
    while (!existsSync(join(sync, 'ready'))) await new Promise((r) => setTimeout(r, 50));
    process.kill(pidOf, 'SIGTERM');
    // The command ignores SIGTERM, so the first signal cannot end the run: diskless waits for it.
    await new Promise((r) => setTimeout(r, 1500));
    expect(exited).toBe(false);
    process.kill(pidOf, 'SIGTERM');
    const r = await running;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM again: exiting now, the command killed/);
    // The command was killed with diskless, not left running: its `sleep 60` held the test's stderr pipe open.
    expect(Date.now() - started).toBeLessThan(30_000);
    // The file closed before the signals is stored on its own, but no manifest makes it a backup.
    expect(await listKeys(bucket, 'term2/')).not.toContain('term2/diskless-manifest.json');
  });

  it('refuses a process of another user: its open fails and nothing is stored', async () => {
    const out = mkdtempSync(join(tmpdir(), 'diskless-out-'));
    execFileSync('chmod', ['0777', out]);
    const r = await runDiskless(
      ['run', '--endpoint-url', testS3().endpoint, '--to', `s3://${bucket}/peer/`, '--dir', out, '--',
        'runuser', '-u', 'nobody', '--', 'sh', '-c', `echo secret > ${out}/stolen.txt`],
      { env: cliEnv() },
    );
    expect(r.code).toBe(5);
    expect(r.stderr).toMatch(/stolen\.txt: Permission denied/);
    expect(await listKeys(bucket, 'peer/')).toEqual([]);
  });
});
