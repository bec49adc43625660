import { unpinFields } from './mutable-fields.js';

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

/** What `pick` asks: has `channel` a frame to write now? (The send scheduler answers.) */
export interface ChannelReadiness {
  channelReady(channel: number): boolean;
}

interface Member {
  channel: number;
  weight: number;
  deficit: number;
  /** The level it belongs to. */
  level: Level;
}

interface Level {
  priority: number;
  members: Member[];
  /** Index of the member whose turn it is. */
  cursor: number;
}

/** The levels of a scheduler with no channel yet (never written: `add` replaces it). */
const NO_LEVELS: Level[] = [];

/**
 * Idle connections stay small (issue 11): while channel 0 alone takes part, with the default
 * settings (most connections, always), the scheduler is two fields (`solo`, `soloDeficit`) and
 * builds no level; the first other channel to have content, or `configure()` of channel 0,
 * builds them. Settings are kept only once configured; lookups by channel scan the levels (few,
 * and only on rare paths: add, configure); `charge()` finds the member `pick()` just returned
 * without one.
 */
export class ChannelScheduler {
  /** Levels in priority order (lowest number first); none while `solo`. */
  private levels: Level[] = NO_LEVELS;
  /** Channel 0 is the only member, with the default settings, and no level is built. */
  private solo = false;
  /** Channel 0's deficit while `solo`. */
  private soloDeficit = 0;
  /**
   * Settings changed by `configure()`, null until the first: channel, priority, weight, then the
   * next channel's. One array of small integers scanned by channel, not a Map and its entries
   * (a connection configures one or two channels; read only on rare paths: add, configure).
   */
  private settings: number[] | null = null;
  /** The member `pick()` returned last (`charge()` is for it). */
  private picked: Member | null = null;

  constructor(
    /** Bytes of credit one turn gives a channel of weight 1; at least the largest frame. */
    private readonly quantum: number,
  ) {
    // Written only once a second channel or a setting comes: mutable from the start (mutable-fields.ts).
    unpinFields(this, ['levels', 'settings', 'picked']);
  }

  /** Settings of `channel` (the defaults until `configure()` changed them). */
  settingsOf(channel: number): ChannelSettings {
    const settings = this.settings;
    if (settings !== null) {
      for (let i = 0; i < settings.length; i += 3) {
        if (settings[i] === channel) return { priority: settings[i + 1]!, weight: settings[i + 2]! };
      }
    }
    return DEFAULT_CHANNEL_SETTINGS;
  }

  /**
   * Set the priority and weight of a channel; applies from its next turn. A channel other than 0
   * that has had no content yet only has its settings kept: channel 0 stays `solo` until that
   * channel joins (`add`), so that settings given for every connection (the endpoint's
   * `channels` option) cost an idle connection no levels.
   */
  configure(channel: number, settings: ChannelSettings): void {
    this.keep(channel, settings);
    if (this.solo) {
      if (channel !== 0) return;
      this.buildLevels();
    }
    const member = this.find(channel);
    if (member === null) return;
    member.weight = settings.weight;
    if (member.level.priority !== settings.priority) {
      this.remove(member);
      this.add(channel);
    }
  }

  /** Record `channel`'s settings (replacing earlier ones). */
  private keep(channel: number, settings: ChannelSettings): void {
    const kept = this.settings;
    if (kept === null) {
      this.settings = [channel, settings.priority, settings.weight];
      return;
    }
    let i = 0;
    while (i < kept.length && kept[i] !== channel) i += 3;
    kept[i] = channel;
    kept[i + 1] = settings.priority;
    kept[i + 2] = settings.weight;
  }

  /** Take part in scheduling (once a channel has had content; idle members cost one check). */
  add(channel: number): void {
    if (this.solo) {
      if (channel === 0) return;
      this.buildLevels();
    } else if (channel === 0 && this.levels.length === 0 && this.settings === null) {
      this.solo = true;
      this.soloDeficit = 0;
      return;
    }
    if (this.find(channel) !== null) return;
    const s = this.settingsOf(channel);
    const levels = this.levels;
    let level = levels.find((l) => l.priority === s.priority);
    const member: Member = { channel, weight: s.weight, deficit: 0, level: null as unknown as Level };
    if (level === undefined) {
      level = { priority: s.priority, members: [member], cursor: 0 };
      member.level = level;
      if (levels.length === 0) this.levels = [level];
      else {
        let i = 0;
        while (i < levels.length && levels[i]!.priority < s.priority) i++;
        levels.splice(i, 0, level);
      }
      return;
    }
    member.level = level;
    level.members.push(member);
  }

  /** Leave the solo form: channel 0 becomes the one member of priority 0's level, its deficit kept. */
  private buildLevels(): void {
    this.solo = false;
    const member: Member = { channel: 0, weight: DEFAULT_CHANNEL_SETTINGS.weight, deficit: this.soloDeficit, level: null as unknown as Level };
    const level: Level = { priority: DEFAULT_CHANNEL_SETTINGS.priority, members: [member], cursor: 0 };
    member.level = level;
    this.levels = [level];
  }

  private find(channel: number): Member | null {
    const levels = this.levels;
    for (let i = 0; i < levels.length; i++) {
      const members = levels[i]!.members;
      for (let j = 0; j < members.length; j++) if (members[j]!.channel === channel) return members[j]!;
    }
    return null;
  }

  private remove(member: Member): void {
    const level = member.level;
    const i = level.members.indexOf(member);
    level.members.splice(i, 1);
    if (level.cursor > i) level.cursor--;
    if (level.cursor >= level.members.length) level.cursor = 0;
    if (level.members.length === 0) this.levels.splice(this.levels.indexOf(level), 1);
    if (this.picked === member) this.picked = null;
  }

  /**
   * The channel to serve next among those `ready` says have something to send, or -1 when none
   * of them has. Every time the turn passes to a ready member it gets a turn's credit, so a member
   * that overdrew (a frame larger than the quantum: the path MTU grew after the scheduler was
   * made) reaches positive credit again within a few turns: a ready channel is always found.
   */
  pick(ready: ChannelReadiness): number {
    if (this.solo) return this.pickSolo(ready);
    const levels = this.levels;
    for (let l = 0; l < levels.length; l++) {
      const level = levels[l]!;
      const members = level.members;
      const n = members.length;
      // Members seen in a row with nothing ready: n of them means none of the level is.
      let idle = 0;
      for (;;) {
        const m = members[level.cursor]!;
        if (ready.channelReady(m.channel)) {
          if (m.deficit > 0) {
            this.picked = m;
            return m.channel;
          }
          idle = 0;
        } else {
          m.deficit = 0;
          if (++idle >= n) break;
        }
        level.cursor = level.cursor + 1 === n ? 0 : level.cursor + 1;
        const next = members[level.cursor]!;
        // Its turn begins (with what it overdrew last time subtracted).
        if (ready.channelReady(next.channel)) next.deficit += this.quantum * next.weight;
      }
    }
    return -1;
  }

  /**
   * `pick()` for one level of one member (channel 0, weight 1): the same steps, with one
   * readiness call where `pick()` makes two in a row for the same member (its answer cannot change
   * in between: `channelReady` only drops acknowledged heads, so a second call repeats the
   * first). One call site: this runs for every frame written, and each call site of
   * `channelReady` is compiled with the readiness check inlined (issue 11, the warm-up).
   */
  private pickSolo(ready: ChannelReadiness): number {
    const isReady = ready.channelReady(0);
    // Nothing ready: the deficit goes. Else the turn passes to the same member until it has
    // credit, a turn's credit each time. One store and one return for both answers: the channel
    // running out of frames mid-packet (the send queue dry, after warm-up) then runs code that
    // has type feedback instead of deoptimising the packet's frame writer (issue 11).
    let deficit = isReady ? this.soloDeficit : 0;
    const turn = this.quantum * DEFAULT_CHANNEL_SETTINGS.weight;
    while (isReady && deficit <= 0) deficit += turn;
    this.soloDeficit = deficit;
    return isReady ? 0 : -1;
  }

  /** `channel` (the one `pick` returned) sent `bytes`. */
  charge(channel: number, bytes: number): void {
    if (this.solo) {
      if (channel === 0) this.soloDeficit -= bytes;
      return;
    }
    const picked = this.picked;
    const member = picked !== null && picked.channel === channel ? picked : this.find(channel);
    if (member !== null) member.deficit -= bytes;
  }
}
