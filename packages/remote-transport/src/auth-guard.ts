/** One line of the daemon's log. */
export interface DaemonLogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly message: string;
  /** The remote address concerned, when there is one. */
  readonly peer?: string;
}

export type DaemonLogger = (entry: DaemonLogEntry) => void;

/** How failed authentication attempts are limited, per peer address. */
export interface AuthLimits {
  /** Failures within `windowMs` before a peer is blocked (default 5). */
  readonly maxFailures?: number;
  /** Default 60 s. */
  readonly windowMs?: number;
  /** How long a blocked peer's connections are dropped unread (default 60 s). */
  readonly blockMs?: number;
}

interface PeerRecord {
  failures: number[];
  blockedUntil: number;
  /** Failures not logged individually while blocked. */
  suppressed: number;
}

/**
 * Failed authentication attempts per peer: each is logged until the peer
 * reaches the limit, then the peer is blocked (its connections are closed
 * before any byte is read) and one line says so; the count of attempts
 * during the block is logged when it ends.
 */
export class AuthGuard {
  private readonly peers = new Map<string, PeerRecord>();
  private readonly maxFailures: number;
  private readonly windowMs: number;
  private readonly blockMs: number;
  /** Total failures seen (for diagnostics and tests). */
  failures = 0;

  constructor(
    limits: AuthLimits,
    private readonly log: DaemonLogger,
  ) {
    this.maxFailures = limits.maxFailures ?? 5;
    this.windowMs = limits.windowMs ?? 60_000;
    this.blockMs = limits.blockMs ?? 60_000;
  }

  /** Whether connections from this peer are refused now. */
  blocked(peer: string, now = Date.now()): boolean {
    const r = this.peers.get(peer);
    if (!r || r.blockedUntil === 0) return false;
    if (now < r.blockedUntil) {
      r.suppressed++;
      return true;
    }
    if (r.suppressed > 0)
      this.log({
        level: 'warn',
        peer,
        message: `authentication: block of ${peer} ended (${r.suppressed} connection attempts refused meanwhile)`,
      });
    this.peers.delete(peer);
    return false;
  }

  /** Record a failed attempt (TLS handshake or call token). */
  failure(peer: string, reason: string, now = Date.now()): void {
    this.failures++;
    let r = this.peers.get(peer);
    if (!r) {
      r = { failures: [], blockedUntil: 0, suppressed: 0 };
      this.peers.set(peer, r);
      if (this.peers.size > 10_000) this.prune(now);
    }
    if (r.blockedUntil > now) {
      r.suppressed++;
      return;
    }
    r.failures = r.failures.filter((t) => now - t < this.windowMs);
    r.failures.push(now);
    this.log({ level: 'warn', peer, message: `authentication failed from ${peer}: ${reason}` });
    if (r.failures.length >= this.maxFailures) {
      r.blockedUntil = now + this.blockMs;
      r.failures = [];
      this.log({
        level: 'warn',
        peer,
        message: `authentication: ${this.maxFailures} failures from ${peer} within ${this.windowMs / 1000} s; refusing its connections for ${this.blockMs / 1000} s`,
      });
    }
  }

  private prune(now: number): void {
    for (const [peer, r] of this.peers) {
      if (r.blockedUntil < now && r.failures.every((t) => now - t >= this.windowMs))
        this.peers.delete(peer);
    }
  }
}
