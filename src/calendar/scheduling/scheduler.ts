// Implicit scheduling (RFC 6638 §3.2): when an organizer stores or deletes a meeting, its attendees
// receive it; when an attendee answers, the organizer's copy learns the answer. Between principals of
// one tenant this happens directly in their calendars; rooms and equipment answer at once by their
// booking policy; everyone else gets iMIP mail (RFC 6047) through the mail flow, and iMIP mail that
// arrives for a local principal is applied here too.
import { meetingDetails } from './meeting-text.ts';
import type { Kysely } from 'kysely';
import type { Directory, Principal } from '../../directory/directory.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Database } from '../../store/schema.ts';
import { parseCalendar, parseCalendarObject, type CalendarObject } from '../calendar-object.ts';
import {
  defaultCalendar,
  deleteObject,
  ensureDefaultCalendar,
  findCalendar,
  findObjectByUid,
  objectUriForUid,
  parsedObject,
  putObject,
} from '../calendars.ts';
import { forbidden, invalid } from '../../errors.ts';
import { decideBooking } from './resource-booking.ts';
import { deliverToInbox } from './schedule-inbox.ts';
import {
  attendeesOf,
  cancelled,
  itipMessage,
  keepPartStat,
  methodOf,
  organizerOf,
  partStatOf,
  replyMessage,
  summaryOf,
  timesChanged,
  withoutMethod,
  withPartStat,
  withDeliveryResults,
  type DeliveryResult,
  type ItipMethod,
  type PartStat,
} from './itip.ts';

/** An iTIP message to send as mail (RFC 6047). */
export interface ImipMessage {
  from: string;
  fromName: string | null;
  /** Every recipient of the message: one invitation reaches all outside attendees, as one message. */
  to: string[];
  method: ItipMethod;
  calendar: string;
  subject: string;
  text: string;
  /**
   * Mail to principals of the sender's tenant telling them what scheduling already did to their
   * calendars: server mail, not counted against the sender's sending limits.
   */
  notice?: boolean;
}

export interface SchedulingDeps {
  db: Kysely<Database>;
  directory: Directory;
  now(): number;
  log: Logger;
  /** Hands an iMIP message to the mail flow (queued durably before it returns). */
  sendImip(message: ImipMessage): Promise<void>;
  /** Throws (a HoldfastError) if `from` may not send one more message to `recipients` more recipients now. */
  checkSending(from: Principal, recipients: number): Promise<void>;
  /** Attendees one meeting may have ([caldav] max_attendees). */
  maxAttendees: number;
}

/** What scheduling does for one change: invite and cancel (the organizer), or answer (an attendee). */
type Plan =
  | { kind: 'organize'; attendees: string[]; removed: string[] }
  | { kind: 'answer'; organizer: string; me: string; answer: PartStat };

const partStatWords: Record<string, string> = {
  ACCEPTED: 'Accepted',
  DECLINED: 'Declined',
  TENTATIVE: 'Tentative',
  'NEEDS-ACTION': 'No answer yet',
  DELEGATED: 'Delegated',
};

export class Scheduler {
  constructor(private readonly deps: SchedulingDeps) {}

  /**
   * Before `owner`'s change is stored (`current` undefined for a deletion): refuses a meeting with
   * more attendees than allowed, and a change whose mail (one message to the attendees reached by
   * mail, or one answer to an organizer outside) the owner's sending limits do not allow now.
   */
  async checkChange(
    owner: Principal,
    previous: CalendarObject | undefined,
    current: CalendarObject | undefined,
    options: { reply: boolean },
  ) {
    const attendees = current ? attendeesOf(current).length : 0;
    if (attendees > this.deps.maxAttendees) {
      throw forbidden(
        'max-attendees-per-instance',
        `the meeting has ${attendees} attendees; at most ${this.deps.maxAttendees} are allowed ([caldav] max_attendees)`,
      );
    }
    const plan = await this.plan(owner, previous, current, options);
    const addressed = plan?.kind === 'organize' ? [...plan.attendees, ...plan.removed] : plan ? [plan.organizer] : [];
    let byMail = 0;
    for (const address of addressed) if (await this.reachedByMail(address, owner.tenantId)) byMail++;
    if (byMail) await this.deps.checkSending(owner, byMail);
  }

  /**
   * After `owner` stored `current` (replacing `previous`, if any): invitations go out if the owner
   * organizes it, an answer goes back if the owner attends it. Returns the organizer's object text
   * if scheduling changed it (attendee answers that came back at once), else undefined.
   */
  async afterWrite(
    owner: Principal,
    previous: CalendarObject | undefined,
    current: CalendarObject,
    data: string,
    options: { reply: boolean },
  ): Promise<string | undefined> {
    const plan = await this.plan(owner, previous, current, options);
    if (plan?.kind === 'answer') await this.deliverReply(owner, data, plan.me, plan.answer, plan.organizer);
    if (plan?.kind !== 'organize') return undefined;
    const results = await this.deliverRequests(owner, current, data, plan.attendees, previous);
    if (previous) await this.deliverCancels(owner, previous, plan.removed);
    return withDeliveryResults(data, results);
  }

  /** After `owner` deleted a scheduled object: attendees are told it is cancelled, or the organizer that the owner declines. */
  async afterDelete(owner: Principal, previous: CalendarObject, data: string, options: { reply: boolean }) {
    const plan = await this.plan(owner, previous, undefined, options);
    if (plan?.kind === 'organize') await this.deliverCancels(owner, previous, plan.removed);
    if (plan?.kind === 'answer') await this.deliverReply(owner, data, plan.me, plan.answer, plan.organizer);
  }

  /** Who hears of `owner`'s change: every attendee if the owner organizes, else the organizer if the owner's answer changed. */
  private async plan(
    owner: Principal,
    previous: CalendarObject | undefined,
    current: CalendarObject | undefined,
    options: { reply: boolean },
  ): Promise<Plan | undefined> {
    const object = current ?? previous;
    const organizer = object && organizerOf(object);
    if (!object || !organizer) return undefined;
    if (await this.isPrincipal(organizer, owner)) {
      const attendees = current ? attendeesOf(current).filter((a) => a !== organizer) : [];
      const removed = previous ? attendeesOf(previous).filter((a) => a !== organizer && !attendees.includes(a)) : [];
      return { kind: 'organize', attendees, removed };
    }
    if (!options.reply) return undefined;
    const me = await this.attendeeAddress(object, owner);
    if (!me) return undefined;
    // Deleting a meeting one attends declines it.
    const before = previous ? partStatOf(previous, me) : 'NEEDS-ACTION';
    const answer = current ? (partStatOf(current, me) ?? 'NEEDS-ACTION') : 'DECLINED';
    return answer === before ? undefined : { kind: 'answer', organizer, me, answer };
  }

  /**
   * A message a client sends itself through the outbox: a proposal of a new time (COUNTER, from an
   * attendee to the organizer) or its refusal (DECLINECOUNTER, from the organizer to attendees).
   * Local recipients find it in their scheduling inbox, others get it by mail.
   */
  async sendCounterMessage(from: Principal, text: string): Promise<{ recipient: string; status: string }[]> {
    const method = methodOf(parseCalendar(text));
    if (method !== 'COUNTER' && method !== 'DECLINECOUNTER')
      throw invalid(
        'valid-calendar-data',
        `the outbox takes METHOD:COUNTER or DECLINECOUNTER here, not ${method || '(none)'}`,
      );
    const object = parseCalendarObject(withoutMethod(text));
    const organizer = organizerOf(object);
    if (!organizer) throw invalid('valid-calendar-data', `a ${method} needs an ORGANIZER`);
    let recipients: string[];
    if (method === 'COUNTER') {
      if (!(await this.attendeeAddress(object, from)))
        throw forbidden('organizer-allowed', `only an attendee proposes a new time; ${from.address} is not one`);
      recipients = [organizer];
    } else {
      if (!(await this.isPrincipal(organizer, from)))
        throw forbidden('organizer-allowed', `only the organizer (${organizer}) declines a proposal`);
      recipients = attendeesOf(object).filter((a) => a !== organizer);
    }
    const byMail: string[] = [];
    for (const recipient of recipients)
      if (!(await this.localPrincipal(recipient, from.tenantId))) byMail.push(recipient);
    if (byMail.length) await this.deps.checkSending(from, byMail.length);
    const results: { recipient: string; status: string }[] = [];
    for (const recipient of recipients) {
      const target = await this.localPrincipal(recipient, from.tenantId);
      if (!target) continue;
      await deliverToInbox(
        this.deps.db,
        target,
        { uid: object.uid, method, sender: from.address, data: text },
        this.deps.now(),
      );
      results.push({ recipient, status: '2.0;Success' });
    }
    if (byMail.length) {
      const subject =
        method === 'COUNTER' ? `New time proposed: ${summaryOf(object)}` : `Proposal declined: ${summaryOf(object)}`;
      const body =
        method === 'COUNTER'
          ? `${from.displayName ?? from.address} proposes a new time for "${summaryOf(object)}".`
          : `${from.displayName ?? from.address} keeps the time of "${summaryOf(object)}".`;
      await this.mail(from, byMail, method, text, subject, body);
      results.push(...byMail.map((recipient) => ({ recipient, status: '1.1;Sent' })));
    }
    return results;
  }

  /**
   * iMIP mail delivered to a local principal: invitations, answers and cancellations from outside.
   * `author` is the From address the mail flow proved the message comes from (aligned SPF or DKIM, a
   * trusted relay, a signed-in sender), or null. Only the organizer invites, moves or cancels, and
   * only an attendee answers for themselves; a UID alone proves nothing. Anything else stays mail.
   */
  async receiveImip(principal: Principal, text: string, author: string | null): Promise<string> {
    if (!author) return 'ignored: the sender is not authenticated (no SPF or DKIM aligned with its From address)';
    const root = parseCalendar(text);
    const method = methodOf(root);
    const object = parseCalendarObject(withoutMethod(text));
    const organizer = organizerOf(object);
    const organizerPrincipal = organizer ? await this.localPrincipal(organizer, principal.tenantId) : undefined;
    const mine = await findObjectByUid(this.deps.db, principal.id, object.uid);
    const stored = mine && parsedObject(mine.row);
    // A message about a meeting we hold must come from that meeting's organizer, whatever it says of itself.
    const otherMeeting =
      stored && organizerOf(stored) !== organizer
        ? `ignored: ${object.uid} is a meeting organized by ${organizerOf(stored) ?? 'nobody'}`
        : undefined;
    if (method === 'REQUEST') {
      // Invitations between principals of one tenant were placed already, without mail.
      if (organizerPrincipal) return 'ignored: internal invitation';
      if (organizer !== author)
        return `ignored: invitation sent by ${author} for a meeting organized by ${organizer ?? 'nobody'}`;
      if (otherMeeting) return otherMeeting;
      const me = (await this.attendeeAddress(object, principal)) ?? principal.address;
      if (principal.kind === 'room' || principal.kind === 'equipment') {
        // Rooms and equipment are booked by their own organisation only (Exchange's default too):
        // an outside organizer would otherwise hold them past every rule of their booking policy.
        const reason = `${principal.displayName ?? principal.address} takes bookings only from its own organisation`;
        await this.mail(
          principal,
          [organizer],
          'REPLY',
          replyMessage(withoutMethod(text), me, 'DECLINED', reason),
          `${partStatWords.DECLINED}: ${summaryOf(object)}`,
          `${reason}.`,
        );
        return `declined: ${reason}`;
      }
      const data =
        stored && !timesChanged(stored, object) ? keepPartStat(withoutMethod(text), me, stored) : withoutMethod(text);
      await this.store(principal, data, object.uid);
      return `invitation from ${organizer} placed on the calendar`;
    }
    if (method === 'REPLY') {
      const attendee = attendeesOf(object)[0];
      if (!attendee || attendee !== author) return `ignored: reply for ${attendee ?? 'nobody'} sent by ${author}`;
      if (!mine || !stored) return 'ignored: no such meeting';
      // An answer between principals of one tenant was recorded when it was given, without mail.
      if (await this.localPrincipal(attendee, principal.tenantId)) return 'ignored: internal answer';
      if (!(await this.isPrincipal(organizerOf(stored) ?? '', principal))) return 'ignored: not the organizer';
      if (!attendeesOf(stored).includes(attendee)) return `ignored: ${attendee} is not invited`;
      await putObject(
        this.deps.db,
        mine.calendar,
        mine.row.uri,
        withPartStat(mine.row.data, attendee, partStatOf(object, attendee) ?? 'NEEDS-ACTION', '2.0'),
        {},
        this.deps.now(),
      );
      return `answer from ${attendee} recorded`;
    }
    if (method === 'CANCEL') {
      if (!organizer || organizer !== author)
        return `ignored: cancellation by ${author} for a meeting organized by ${organizer ?? 'nobody'}`;
      if (!mine) return 'ignored: no such meeting';
      if (otherMeeting) return otherMeeting;
      await putObject(this.deps.db, mine.calendar, mine.row.uri, cancelled(mine.row.data), {}, this.deps.now());
      return 'meeting marked cancelled';
    }
    if (method === 'COUNTER' || method === 'DECLINECOUNTER') {
      // A proposal comes from an attendee to the organizer; its refusal from the organizer.
      const fromRightPerson =
        method === 'COUNTER'
          ? attendeesOf(object).includes(author) && organizerPrincipal?.id === principal.id
          : organizer === author && !otherMeeting;
      if (!fromRightPerson) return `ignored: ${method} from ${author}`;
      await deliverToInbox(
        this.deps.db,
        principal,
        { uid: object.uid, method, sender: author, data: text },
        this.deps.now(),
      );
      return `${method} placed in the scheduling inbox`;
    }
    return `ignored: METHOD ${method || '(none)'}`;
  }

  // Delivery ---------------------------------------------------------------------------------------

  /**
   * Gives every attendee the meeting: local ones directly, the rest in one invitation by mail. Local
   * people get the invitation in their INBOX too, as Exchange users expect (delivery leaves their
   * calendar alone: it has the meeting already). The results say how each was reached.
   */
  private async deliverRequests(
    organizer: Principal,
    object: CalendarObject,
    data: string,
    attendees: string[],
    previous: CalendarObject | undefined,
  ): Promise<Map<string, DeliveryResult>> {
    const results = new Map<string, DeliveryResult>();
    const byMail: string[] = [];
    const localPeople: string[] = [];
    for (const attendee of attendees) {
      const result = await this.deliverRequest(organizer, object, data, attendee, previous);
      if (!result) byMail.push(attendee);
      else if (result.status === '1.2' && !result.partStat) localPeople.push(attendee);
      results.set(attendee, result ?? { status: '1.1' });
    }
    const text = `${organizer.displayName ?? organizer.address} invites you to "${summaryOf(object)}".\n\n${meetingDetails(object, organizer)}`;
    if (byMail.length)
      await this.mail(
        organizer,
        byMail,
        'REQUEST',
        itipMessage(data, 'REQUEST'),
        `Invitation: ${summaryOf(object)}`,
        text,
      );
    if (localPeople.length)
      await this.mail(
        organizer,
        localPeople,
        'REQUEST',
        itipMessage(data, 'REQUEST'),
        `Invitation: ${summaryOf(object)}`,
        text,
        { notice: true },
      );
    return results;
  }

  /**
   * Gives one local attendee the meeting; the result says how, and carries the answer when it comes
   * back at once (rooms). Undefined for an attendee reached only by mail.
   */
  private async deliverRequest(
    organizer: Principal,
    object: CalendarObject,
    data: string,
    attendee: string,
    previous: CalendarObject | undefined,
  ): Promise<DeliveryResult | undefined> {
    const target = await this.localPrincipal(attendee, organizer.tenantId);
    if (!target) return (await this.unknownLocalAddress(attendee)) ? { status: '3.7' } : undefined;
    // A resource that does not auto-accept takes a request within its policy as a person does: its
    // delegates answer it in the resource's calendar.
    const decision =
      target.kind === 'room' || target.kind === 'equipment'
        ? await decideBooking(this.deps.db, target, organizer.address, object, this.deps.now())
        : undefined;
    if (decision?.outcome === 'wait')
      this.deps.log.info(
        { resource: target.address, uid: object.uid },
        'calendar: resource request waits for a delegate',
      );
    if (decision && decision.outcome !== 'wait') {
      const answer: PartStat = decision.outcome === 'accept' ? 'ACCEPTED' : 'DECLINED';
      const existing = await findObjectByUid(this.deps.db, target.id, object.uid);
      if (answer === 'ACCEPTED') await this.store(target, withPartStat(data, attendee, 'ACCEPTED'), object.uid);
      else if (existing) await deleteObject(this.deps.db, existing.calendar, existing.row.uri, {});
      // The organizer's calendar has the answer already; the mail tells them why, as Exchange does.
      await this.mail(
        target,
        [organizer.address],
        'REPLY',
        replyMessage(data, attendee, answer, decision.reason),
        `${partStatWords[answer]}: ${summaryOf(object)}`,
        `${decision.reason}.`,
      );
      this.deps.log.info(
        { resource: target.address, uid: object.uid, answer, reason: decision.reason },
        'calendar: resource answered',
      );
      return { status: '1.2', partStat: answer };
    }
    const existing = await findObjectByUid(this.deps.db, target.id, object.uid);
    const before = existing ? parsedObject(existing.row) : previous;
    // A new time makes an earlier answer stale: the attendee is asked again.
    const copy = !before
      ? data
      : timesChanged(before, object)
        ? withPartStat(data, attendee, 'NEEDS-ACTION')
        : keepPartStat(data, attendee, before);
    await this.store(target, copy, object.uid);
    return { status: '1.2' };
  }

  /** Tells attendees the meeting is cancelled: local ones in their calendars, the rest in one message. */
  private async deliverCancels(organizer: Principal, object: CalendarObject, attendees: string[]) {
    const byMail: string[] = [];
    const localPeople: string[] = [];
    for (const attendee of attendees) {
      const local = await this.cancelLocally(organizer, object, attendee);
      if (local === 'person') localPeople.push(attendee);
      else if (!local && (await this.reachedByMail(attendee, organizer.tenantId))) byMail.push(attendee);
    }
    const text = `${organizer.displayName ?? organizer.address} has cancelled "${summaryOf(object)}".\n\n${meetingDetails(object, organizer)}`;
    if (byMail.length)
      await this.mail(
        organizer,
        byMail,
        'CANCEL',
        itipMessage(object.root.toString(), 'CANCEL'),
        `Canceled: ${summaryOf(object)}`,
        text,
      );
    if (localPeople.length)
      await this.mail(
        organizer,
        localPeople,
        'CANCEL',
        itipMessage(object.root.toString(), 'CANCEL'),
        `Canceled: ${summaryOf(object)}`,
        text,
        { notice: true },
      );
  }

  /** Cancels the meeting in a local attendee's calendar: which kind of attendee it was, false for one who is not local. */
  private async cancelLocally(
    organizer: Principal,
    object: CalendarObject,
    attendee: string,
  ): Promise<'person' | 'resource' | false> {
    const target = await this.localPrincipal(attendee, organizer.tenantId);
    if (!target) return false;
    const resource = target.kind === 'room' || target.kind === 'equipment';
    const existing = await findObjectByUid(this.deps.db, target.id, object.uid);
    if (!existing) return resource ? 'resource' : 'person';
    // A room is simply free again; a person keeps the meeting, marked cancelled, until they remove it.
    if (resource) await deleteObject(this.deps.db, existing.calendar, existing.row.uri, {});
    else
      await putObject(
        this.deps.db,
        existing.calendar,
        existing.row.uri,
        cancelled(existing.row.data),
        {},
        this.deps.now(),
      );
    return resource ? 'resource' : 'person';
  }

  private async deliverReply(
    attendeePrincipal: Principal,
    data: string,
    attendee: string,
    answer: PartStat,
    organizer: string,
  ) {
    const target = await this.localPrincipal(organizer, attendeePrincipal.tenantId);
    const object = parseCalendarObject(data);
    if (!target) {
      await this.mail(
        attendeePrincipal,
        [organizer],
        'REPLY',
        replyMessage(data, attendee, answer),
        `${partStatWords[answer] ?? answer}: ${summaryOf(object)}`,
        `${attendeePrincipal.displayName ?? attendeePrincipal.address} answered: ${partStatWords[answer] ?? answer}.`,
      );
      return;
    }
    const mine = await findObjectByUid(this.deps.db, target.id, object.uid);
    if (!mine) return;
    await putObject(
      this.deps.db,
      mine.calendar,
      mine.row.uri,
      withPartStat(mine.row.data, attendee, answer, '2.0'),
      {},
      this.deps.now(),
    );
    // The organizer hears of the answer in the INBOX too (delivery leaves the calendar alone: it has the answer).
    await this.mail(
      attendeePrincipal,
      [target.address],
      'REPLY',
      replyMessage(data, attendee, answer),
      `${partStatWords[answer] ?? answer}: ${summaryOf(object)}`,
      `${attendeePrincipal.displayName ?? attendeePrincipal.address} answered: ${partStatWords[answer] ?? answer}.`,
      { notice: true },
    );
  }

  /** Puts a scheduling copy where the principal keeps it: the calendar already holding the UID, else the default calendar. */
  private async store(principal: Principal, data: string, uid: string) {
    const existing = await findObjectByUid(this.deps.db, principal.id, uid);
    if (existing) {
      await putObject(this.deps.db, existing.calendar, existing.row.uri, data, {}, this.deps.now());
      return;
    }
    await ensureDefaultCalendar(this.deps.db, principal, this.deps.now());
    const calendar =
      (await findCalendar(this.deps.db, principal.id, defaultCalendar.uri)) ?? (await this.anyCalendar(principal.id));
    await putObject(this.deps.db, calendar, objectUriForUid(uid), data, {}, this.deps.now());
  }

  private async anyCalendar(principalId: number) {
    return this.deps.db
      .selectFrom('calendars')
      .selectAll()
      .where('principal_id', '=', principalId)
      .orderBy('id')
      .executeTakeFirstOrThrow();
  }

  private async mail(
    from: Principal,
    to: string[],
    method: ItipMethod,
    calendar: string,
    subject: string,
    text: string,
    options: { notice?: boolean } = {},
  ) {
    await this.deps.sendImip({
      from: from.address,
      fromName: from.displayName,
      to,
      method,
      calendar,
      subject,
      text,
      notice: options.notice,
    });
    this.deps.log.info({ from: from.address, to, method }, 'calendar: iMIP message queued');
  }

  // Who is who -------------------------------------------------------------------------------------

  /** The local principal (of this tenant) a calendar address reaches, if any; groups are not attendees. */
  private async localPrincipal(address: string, tenantId: number): Promise<Principal | undefined> {
    const resolved = await this.deps.directory.resolveAddress(address).catch(() => undefined);
    if (!resolved || resolved.principal.kind === 'group' || resolved.principal.tenantId !== tenantId) return undefined;
    return resolved.principal;
  }

  /** Whether scheduling reaches this address by mail: not a principal of the tenant, nor a local address that reaches nobody. */
  private async reachedByMail(address: string, tenantId: number): Promise<boolean> {
    return !(await this.localPrincipal(address, tenantId)) && !(await this.unknownLocalAddress(address));
  }

  /** An address in one of our own authoritative domains that reaches nobody: mail would bounce. */
  private async unknownLocalAddress(address: string): Promise<boolean> {
    const domain = await this.deps.directory.findDomain(address.split('@')[1] ?? '').catch(() => undefined);
    return (
      domain?.kind === 'authoritative' && !(await this.deps.directory.resolveAddress(address).catch(() => undefined))
    );
  }

  private async isPrincipal(address: string, principal: Principal): Promise<boolean> {
    if (address === principal.address) return true;
    return (await this.localPrincipal(address, principal.tenantId))?.id === principal.id;
  }

  /** The attendee address in the object that is this principal (its own address or an alias). */
  private async attendeeAddress(object: CalendarObject, principal: Principal): Promise<string | undefined> {
    const attendees = attendeesOf(object);
    if (attendees.includes(principal.address)) return principal.address;
    for (const attendee of attendees) if (await this.isPrincipal(attendee, principal)) return attendee;
    return undefined;
  }
}
