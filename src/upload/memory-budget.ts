import { UploadError, UsageError } from '../errors.js';
import { MiB, formatBytes } from '../util/size.js';

export const SLAB_SIZE = 1 * MiB;

/** How long a file waiting for admission may see no memory come back before the run fails (no hang). */
export const DEFAULT_ADMISSION_STALL_MS = 120_000;

/**
 * One stream's share of the budget: `guarantee` slabs it can always get without waiting (enough
 * for a part that may be sent early), so that every admitted stream can make progress however the
 * rest of the budget is used; and `cap`, the most slabs it may hold at once (its parts in flight
 * and the one filling), so that one long stream with large parts does not take the whole budget.
 */
export class Reservation {
  held = 0;
  closed = false;
  constructor(
    private readonly budget: MemoryBudget,
    /** Slabs set aside now; raised to `minimum` by grow(). */
    public guarantee: number,
    readonly cap: number = Number.POSITIVE_INFINITY,
    /** The guarantee the stream needs to send a part early (a minimum part); its admission waited for room for it. */
    readonly minimum: number = guarantee,
  ) {}

  /** Gives the guarantee back (the stream ended). Slabs still held go back as they are released. */
  close(): void {
    this.budget.closeReservation(this);
  }

  /** Raises the guarantee to `minimum`, waiting as an admission does (MemoryBudget.grow). */
  grow(signal?: AbortSignal): Promise<void> {
    return this.budget.grow(this, signal);
  }
}

interface Waiting {
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}
/** A stream waiting for memory to be set aside: a new one (admit), or an admitted one raising its guarantee (grow). */
type Admission =
  | (Waiting & { kind: 'admit'; guarantee: number; start: number; cap: number; resolve: (r: Reservation) => void; since: number })
  | (Waiting & { kind: 'grow'; guarantee: number; reservation: Reservation; resolve: () => void; since: number });
type Waiter = (Waiting & { kind: 'slab'; holder: Reservation | undefined; resolve: (slab: Buffer) => void }) | Admission;

const isAdmission = (w: Waiter): w is Admission => w.kind !== 'slab';

/**
 * The one memory budget shared by everything a process uploads.
 *
 * Memory is handed out as fixed-size slabs that are reused, never freed to the garbage
 * collector, so the process never holds more than `limit` bytes of upload data and RSS does not
 * creep. A reader that asks for a slab when none is free waits (FIFO): that wait is the
 * backpressure that stops reading the input, so the budget is never exceeded and never fails
 * with out-of-memory.
 *
 * Progress with many streams: a stream is admitted (`admit`) only when the budget can set aside a
 * minimum part for it; until then it reads nothing (its writer blocks). It may start with less of
 * it set aside and `grow` to it later (see admit). An admitted stream always gets the slabs of its
 * guarantee at once, so once it holds a minimum part's it can fill a part that may be sent early,
 * which returns memory: however many files are open, the admitted ones progress and the others
 * follow.
 * A wait for admission during which no memory comes back for `stallMs` fails with a message
 * naming --memory (e.g. one thread writing to more files at once than the budget can admit).
 */
export class MemoryBudget {
  readonly slabSize: number;
  readonly maxSlabs: number;
  private readonly free: Buffer[] = [];
  private allocated = 0;
  private used = 0;
  private peakUsed = 0;
  /** Slabs promised to admitted streams and not taken yet: Σ max(0, guarantee − held). */
  private owed = 0;
  private readonly reservations = new Set<Reservation>();
  private readonly waiters: Waiter[] = [];
  private lastRelease = Date.now();
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly limit: number,
    slabSize: number = SLAB_SIZE,
    private readonly stallMs: number = DEFAULT_ADMISSION_STALL_MS,
  ) {
    if (!Number.isInteger(slabSize) || slabSize < 1) throw new UsageError(`slab size must be a positive integer`);
    this.slabSize = slabSize;
    this.maxSlabs = Math.floor(limit / slabSize);
    if (this.maxSlabs < 1) throw new UsageError(`memory budget ${limit} B is smaller than one ${slabSize} B slab`);
  }

  /** Bytes handed out now. */
  get inUse(): number {
    return this.used * this.slabSize;
  }

  /** Most bytes ever handed out at once. */
  get peak(): number {
    return this.peakUsed * this.slabSize;
  }

  /** Slabs a caller without a reservation could get now without waiting. */
  get available(): number {
    return this.availableTo(undefined);
  }

  /** Slabs `holder` could get now without waiting. */
  availableTo(holder: Reservation | undefined): number {
    const own = holder && !holder.closed ? Math.max(0, holder.guarantee - holder.held) : 0;
    // A stream waiting for admission comes first: shared slabs go to it before anyone grows further.
    const shared = this.waiters.some(isAdmission) ? 0 : this.unpromised;
    return own + Math.max(0, shared);
  }

  /**
   * Admits a stream: waits until `guarantee` slabs could be set aside for it, and sets aside `start`
   * of them (default all; the rest with `Reservation.grow`). Fails when no memory came back for the
   * stall time while it waited. The stream then holds at most `cap` slabs at once (never fewer than
   * its guarantee): past it, `acquire` waits for one of its own slabs to come back (its parts in
   * flight settle), whatever the rest of the budget holds.
   *
   * The uploader admits a stream with one slab (a small file needs no more) and grows it to its
   * minimum part once its bytes pass that slab, so files open but barely written (a dump's
   * metadata and schema files) hold one slab each, not a minimum part. Since the admission still
   * waits for room for a whole minimum part, the streams admitted leave enough memory for one of
   * them to grow; a grow is served before new admissions.
   */
  admit(guarantee: number, signal?: AbortSignal, cap: number = Number.POSITIVE_INFINITY, start: number = guarantee): Promise<Reservation> {
    signal?.throwIfAborted();
    const g = Math.min(Math.max(1, guarantee), this.maxSlabs);
    const c = Math.max(g, cap);
    const s0 = Math.min(Math.max(1, start), g);
    if (!this.waiters.some(isAdmission) && this.unpromised >= g) return Promise.resolve(this.reserve(s0, c, g));
    return new Promise<Reservation>((resolve, reject) => {
      const waiter: Waiter = { kind: 'admit', guarantee: g, start: s0, cap: c, resolve, reject, signal, since: Date.now(), onAbort: () => this.drop(waiter, signal?.reason) };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
      this.watchStall();
    });
  }

  /**
   * Raises an admitted stream's guarantee to its `minimum`: waits, as an admission does but ahead of
   * the streams waiting for one, until the extra slabs can be set aside.
   */
  grow(r: Reservation, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    const g = r.minimum;
    if (r.closed || g <= r.guarantee) return Promise.resolve();
    if (!this.waiters.some((w) => w.kind === 'grow') && this.unpromised >= this.extraOwed(r, g)) {
      this.raise(r, g);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { kind: 'grow', guarantee: g, reservation: r, resolve, reject, signal, since: Date.now(), onAbort: () => this.drop(waiter, signal?.reason) };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      // Ahead of new admissions: a stream already going finishes (and gives its memory back) first.
      const firstAdmit = this.waiters.findIndex((w) => w.kind === 'admit');
      this.waiters.splice(firstAdmit < 0 ? this.waiters.length : firstAdmit, 0, waiter);
      this.watchStall();
    });
  }

  /** Slabs neither handed out nor promised to an admitted stream. */
  private get unpromised(): number {
    return this.maxSlabs - this.used - this.owed;
  }

  /** Slabs a waiting admission needs set aside: a new stream's minimum part, or what a grow adds. */
  private roomFor(w: Admission): number {
    if (w.kind === 'admit') return w.guarantee;
    return w.reservation.closed ? 0 : this.extraOwed(w.reservation, w.guarantee);
  }

  private grant(w: Admission): void {
    if (w.kind === 'admit') w.resolve(this.reserve(w.start, w.cap, w.guarantee));
    else {
      if (!w.reservation.closed) this.raise(w.reservation, w.guarantee);
      w.resolve();
    }
  }

  /** Slabs more the budget would owe `r` with a guarantee of `g`. */
  private extraOwed(r: Reservation, g: number): number {
    return Math.max(0, g - r.held) - Math.max(0, r.guarantee - r.held);
  }

  private raise(r: Reservation, g: number): void {
    this.owed += this.extraOwed(r, g);
    r.guarantee = g;
  }

  /** A slab of `slabSize` bytes (content undefined); waits while the budget (for this holder) is spent. */
  acquire(signal?: AbortSignal, holder?: Reservation): Promise<Buffer> {
    signal?.throwIfAborted();
    if (this.grantable(holder)) return Promise.resolve(this.take(holder));
    return new Promise<Buffer>((resolve, reject) => {
      const waiter: Waiter = { kind: 'slab', holder, resolve, reject, signal, onAbort: () => this.drop(waiter, signal?.reason) };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  /**
   * A slab now if the budget has one to spare for a caller without a reservation (none promised to
   * admitted streams, no stream waiting for admission), else undefined: never waits. Read-ahead
   * takes its buffers this way, so reading never holds up what is being written.
   */
  tryAcquire(): Buffer | undefined {
    return this.availableTo(undefined) > 0 ? this.take(undefined) : undefined;
  }

  /** Gives a slab back; waiters that can now be served are. */
  release(slab: Buffer, holder?: Reservation): void {
    if (slab.length !== this.slabSize) throw new Error('released a buffer that is not a slab of this budget');
    this.used--;
    this.free.push(slab);
    if (holder) {
      holder.held--;
      if (!holder.closed && holder.held < holder.guarantee) this.owed++;
    }
    this.lastRelease = Date.now();
    this.pump();
  }

  /** @internal Reservation.close */
  closeReservation(r: Reservation): void {
    if (r.closed) return;
    this.owed -= Math.max(0, r.guarantee - r.held);
    r.closed = true;
    this.reservations.delete(r);
    this.pump();
  }

  private reserve(g: number, cap: number, minimum: number): Reservation {
    const r = new Reservation(this, g, cap, minimum);
    this.reservations.add(r);
    this.owed += g;
    return r;
  }

  private pump(): void {
    for (let i = 0; i < this.waiters.length; ) {
      const w = this.waiters[i]!;
      if (isAdmission(w)) {
        if (this.unpromised >= this.roomFor(w)) {
          this.waiters.splice(i, 1);
          w.signal?.removeEventListener('abort', w.onAbort);
          this.grant(w);
          continue;
        }
        // Admissions go in order; slab waiters behind may still be served from their own guarantee.
        i++;
        continue;
      }
      if (this.grantable(w.holder)) {
        this.waiters.splice(i, 1);
        w.signal?.removeEventListener('abort', w.onAbort);
        w.resolve(this.take(w.holder));
        continue;
      }
      i++;
    }
    if (!this.waiters.some(isAdmission) && this.stallTimer) {
      clearInterval(this.stallTimer);
      this.stallTimer = undefined;
    }
  }

  private drop(waiter: Waiter, reason: unknown): void {
    const i = this.waiters.indexOf(waiter);
    if (i >= 0) this.waiters.splice(i, 1);
    waiter.reject(reason);
    this.pump();
  }

  /** While streams wait for admission, fails them if no memory came back for the stall time. */
  private watchStall(): void {
    if (this.stallTimer) return;
    this.stallTimer = setInterval(() => {
      const now = Date.now();
      const waiting = this.waiters.filter(isAdmission);
      if (waiting.length === 0) return;
      if (now - Math.max(this.lastRelease, waiting[0]!.since) < this.stallMs) return;
      const g = waiting[0]!.guarantee;
      const files = this.reservations.size + waiting.filter((w) => w.kind === 'admit').length;
      const err = new UploadError(
        `${files} files are being written at once, but --memory ${formatBytes(this.limit)} holds the minimum part ` +
          `(${formatBytes(g * this.slabSize)}) of only ${Math.floor(this.maxSlabs / g)} of them, and the files admitted made no ` +
          `progress for ${Math.round(this.stallMs / 1000)} s; raise --memory to at least ${formatBytes(files * g * this.slabSize)}, ` +
          'or let the program write fewer files at once',
      );
      for (const w of waiting) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.signal?.removeEventListener('abort', w.onAbort);
        w.reject(err);
      }
      this.pump();
    }, Math.max(10, Math.min(1_000, this.stallMs / 4)));
    this.stallTimer.unref();
  }

  /**
   * Whether `holder` gets a slab now: the budget has one for it and it holds less than its cap. (A
   * part at its stream's cap is not `starved`: waiting for the stream's own parts in flight frees it.)
   */
  private grantable(holder: Reservation | undefined): boolean {
    return this.availableTo(holder) > 0 && (!holder || holder.closed || holder.held < holder.cap);
  }

  private take(holder: Reservation | undefined): Buffer {
    let slab = this.free.pop();
    if (!slab) {
      // Outside the V8 heap and never pooled by Node, so each slab is really ours to reuse.
      slab = Buffer.allocUnsafeSlow(this.slabSize);
      this.allocated++;
    }
    this.used++;
    if (holder) {
      if (!holder.closed && holder.held < holder.guarantee) this.owed--;
      holder.held++;
    }
    if (this.used > this.peakUsed) this.peakUsed = this.used;
    return slab;
  }
}
