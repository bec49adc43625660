/**
 * Which channel sends next: strict priority between levels, deficit round robin (Shreedhar &
 * Varghese, 1996) between the channels of one level. It knows nothing of frames or queues: the
 * send scheduler asks `pick(ready)` for a channel whose content is ready, writes one frame of it
 * and reports the bytes with `charge()`.
 *
 * - Priority: a lower number is served first (like GNS lanes); a level is served only while
 *   every level before it has nothing ready, so a busy high-priority channel can starve a lower
 *   one. That is the contract: use weights, not priorities, for sharing.
 * - Weight: channels of one level share in proportion to their weights. A channel's turn gives it
 *   `weight × quantum` bytes of credit (its deficit); it keeps the turn while the deficit is
 *   positive. A channel that has nothing ready loses its deficit (no saving up while idle).
 *   `quantum` is at least the largest frame, so one turn always allows one frame.
 */

export interface ChannelSettings {
  /** Lower is served first. Integer 0–255; default 0. */
  priority: number;
  /** Share within the priority level. Integer 1–65535; default 1. */
  weight: number;
}

export const DEFAULT_CHANNEL_SETTINGS: Readonly<ChannelSettings> = { priority: 0, weight: 1 };

interface Member {
  channel: number;
  weight: number;
  deficit: number;
}

interface Level {
  priority: number;
  members: Member[];
  /** Index of the member whose turn it is. */
  cursor: number;
}

export class ChannelScheduler {
  /** Levels in priority order (lowest number first). */
  private readonly levels: Level[] = [];
  private readonly members = new Map<number, { member: Member; level: Level }>();
  private readonly settings = new Map<number, ChannelSettings>();

  constructor(
    /** Bytes of credit one turn gives a channel of weight 1; at least the largest frame. */
    private readonly quantum: number,
  ) {}

  /** Settings of `channel` (the defaults until `configure()` changed them). */
  settingsOf(channel: number): ChannelSettings {
    return this.settings.get(channel) ?? DEFAULT_CHANNEL_SETTINGS;
  }

  /** Set the priority and weight of a channel; applies from its next turn. */
  configure(channel: number, settings: ChannelSettings): void {
    this.settings.set(channel, { priority: settings.priority, weight: settings.weight });
    const entry = this.members.get(channel);
    if (entry === undefined) return;
    entry.member.weight = settings.weight;
    if (entry.level.priority !== settings.priority) {
      this.remove(channel);
      this.add(channel);
    }
  }

  /** Take part in scheduling (once a channel has had content; idle members cost one check). */
  add(channel: number): void {
    if (this.members.has(channel)) return;
    const s = this.settingsOf(channel);
    let level = this.levels.find((l) => l.priority === s.priority);
    if (level === undefined) {
      level = { priority: s.priority, members: [], cursor: 0 };
      let i = 0;
      while (i < this.levels.length && this.levels[i]!.priority < s.priority) i++;
      this.levels.splice(i, 0, level);
    }
    const member: Member = { channel, weight: s.weight, deficit: 0 };
    level.members.push(member);
    this.members.set(channel, { member, level });
  }

  private remove(channel: number): void {
    const entry = this.members.get(channel);
    if (entry === undefined) return;
    const { level, member } = entry;
    const i = level.members.indexOf(member);
    level.members.splice(i, 1);
    if (level.cursor > i) level.cursor--;
    if (level.cursor >= level.members.length) level.cursor = 0;
    if (level.members.length === 0) this.levels.splice(this.levels.indexOf(level), 1);
    this.members.delete(channel);
  }

  /**
   * The channel to serve next among those `ready` says have something to send, or -1 when none
   * of them has. Every time the turn passes to a ready member it gets a turn's credit, so a member
   * that overdrew (a frame larger than the quantum: the path MTU grew after the scheduler was
   * made) reaches positive credit again within a few turns: a ready channel is always found.
   */
  pick(ready: (channel: number) => boolean): number {
    for (const level of this.levels) {
      const members = level.members;
      const n = members.length;
      // Members seen in a row with nothing ready: n of them means none of the level is.
      let idle = 0;
      for (;;) {
        const m = members[level.cursor]!;
        if (ready(m.channel)) {
          if (m.deficit > 0) return m.channel;
          idle = 0;
        } else {
          m.deficit = 0;
          if (++idle >= n) break;
        }
        level.cursor = level.cursor + 1 === n ? 0 : level.cursor + 1;
        const next = members[level.cursor]!;
        // Its turn begins (with what it overdrew last time subtracted).
        if (ready(next.channel)) next.deficit += this.quantum * next.weight;
      }
    }
    return -1;
  }

  /** `channel` (the one `pick` returned) sent `bytes`. */
  charge(channel: number, bytes: number): void {
    const entry = this.members.get(channel);
    if (entry !== undefined) entry.member.deficit -= bytes;
  }
}
