// The issues in the store: opened by the incident rules or by an administrator, their status moves
// and timeline posts. Every change is one conditional write, so two nodes judging the same shared
// rule cannot open it twice or post the same move twice.
import type { Kysely } from 'kysely';
import { conflict, invalid, notFound } from '../errors.ts';
import type { Database, HealthIssueTable } from '../store/schema.ts';
import type { IssueScope } from './check-result.ts';
import {
  componentById,
  healthServices,
  parseStatus,
  resolvedStatuses,
  type Classification,
  type ComponentId,
  type IssueStatus,
} from './components.ts';

export interface HealthPost {
  createdAt: number;
  postType: 'regular' | 'quick' | 'strategic';
  status: IssueStatus;
  /** HTML. */
  content: string;
  author: string;
}

export interface HealthIssue {
  id: string;
  component: ComponentId;
  rule: string | null;
  classification: Classification;
  origin: 'customer' | 'thirdParty';
  status: IssueStatus;
  title: string;
  impactDescription: string;
  feature: string;
  featureGroup: string;
  publicSummary: string;
  scope: IssueScope;
  isResolved: boolean;
  startAt: number;
  endAt: number | null;
  updatedAt: number;
  createdBy: string;
  posts: HealthPost[];
}

export interface NewIssue {
  component: ComponentId;
  rule?: string;
  classification: Classification;
  origin: 'customer' | 'thirdParty';
  status: IssueStatus;
  title: string;
  impactDescription: string;
  feature: string;
  publicSummary?: string;
  scope: IssueScope;
  startAt: number;
  author: string;
  post: string;
}

export const holdfastAuthor = 'holdfast';
const firstNumber = 1001;

export class IssueLog {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly now: () => number,
  ) {}

  /** Opens an issue; undefined when its rule already has an open issue (another node was first). */
  async open(input: NewIssue): Promise<HealthIssue | undefined> {
    const component = componentById(input.component);
    if (resolvedStatuses.includes(input.status))
      throw invalid('invalid-status', `a new issue cannot start as ${input.status}`);
    for (let attempt = 0; ; attempt++) {
      if (input.rule && (await this.openForRule(input.rule))) return undefined;
      const last = await this.db
        .selectFrom('health_issues')
        .select((eb) => eb.fn.max<number>('number').as('n'))
        .executeTakeFirst();
      const number = Math.max(Number(last?.n ?? 0) + 1, firstNumber);
      const id = `${healthServices[component.service].prefix}${number}`;
      const at = this.now();
      try {
        await this.db.transaction().execute(async (trx) => {
          await trx
            .insertInto('health_issues')
            .values({
              id,
              number,
              component: component.id,
              rule: input.rule ?? null,
              classification: input.classification,
              origin: input.origin,
              status: input.status,
              title: input.title,
              impact_description: input.impactDescription,
              feature: input.feature,
              feature_group: healthServices[component.service].name,
              public_summary: input.publicSummary ?? input.title,
              scope: JSON.stringify(input.scope),
              is_resolved: 0,
              start_at: input.startAt,
              end_at: null,
              updated_at: at,
              created_by: input.author,
            })
            .execute();
          await trx
            .insertInto('health_issue_posts')
            .values({
              issue_id: id,
              created_at: at,
              post_type: 'regular',
              status: input.status,
              content: input.post,
              author: input.author,
            })
            .execute();
        });
        return (await this.get(id))!;
      } catch (error) {
        // A number taken by a concurrent opener, or the rule opened meanwhile: look again.
        if (attempt >= 5) throw error;
      }
    }
  }

  async get(id: string): Promise<HealthIssue | undefined> {
    const row = await this.db
      .selectFrom('health_issues')
      .selectAll()
      .where('id', '=', id.trim().toUpperCase())
      .executeTakeFirst();
    return row && (await this.withPosts([row]))[0];
  }

  async require(id: string): Promise<HealthIssue> {
    const issue = await this.get(id);
    if (!issue) throw notFound('no-such-issue', `no service health issue ${id}`);
    return issue;
  }

  /** Open issues, and those resolved since `since` (newest first). */
  async list(options: { since?: number; openOnly?: boolean } = {}): Promise<HealthIssue[]> {
    let query = this.db.selectFrom('health_issues').selectAll().orderBy('start_at', 'desc').orderBy('number', 'desc');
    if (options.openOnly) query = query.where('is_resolved', '=', 0);
    else if (options.since !== undefined) {
      const since = options.since;
      query = query.where((eb) => eb.or([eb('is_resolved', '=', 0), eb('end_at', '>=', since)]));
    }
    return this.withPosts(await query.execute());
  }

  async openForRule(rule: string): Promise<HealthIssue | undefined> {
    const row = await this.db
      .selectFrom('health_issues')
      .selectAll()
      .where('rule', '=', rule)
      .where('is_resolved', '=', 0)
      .executeTakeFirst();
    return row && (await this.withPosts([row]))[0];
  }

  /**
   * Moves an issue to a status with a post. With `from`, only if it still has that status (another
   * node may have moved it): returns undefined when it had not.
   */
  async setStatus(
    id: string,
    to: IssueStatus,
    change: {
      post: string;
      author: string;
      from?: IssueStatus;
      classification?: Classification;
      postType?: HealthPost['postType'];
    },
  ): Promise<HealthIssue | undefined> {
    const issue = await this.require(id);
    const resolving = resolvedStatuses.includes(to);
    if (issue.isResolved && !(to === 'postIncidentReviewPublished' || to === issue.status)) {
      throw conflict(
        'issue-resolved',
        `${issue.id} is resolved (${issue.status}); only postIncidentReviewPublished may follow. Open a new issue if the problem is back`,
      );
    }
    const at = this.now();
    const changed = await this.db.transaction().execute(async (trx) => {
      let update = trx
        .updateTable('health_issues')
        .set({
          status: to,
          updated_at: at,
          is_resolved: resolving ? 1 : 0,
          end_at: resolving ? (issue.endAt ?? at) : null,
          ...(change.classification ? { classification: change.classification } : {}),
        })
        .where('id', '=', issue.id);
      if (change.from) update = update.where('status', '=', change.from);
      const result = await update.executeTakeFirst();
      if (Number(result.numUpdatedRows) === 0) return false;
      await trx
        .insertInto('health_issue_posts')
        .values({
          issue_id: issue.id,
          created_at: at,
          post_type: change.postType ?? 'regular',
          status: to,
          content: change.post,
          author: change.author,
        })
        .execute();
      return true;
    });
    return changed ? this.get(issue.id) : undefined;
  }

  /** A post without a status change. */
  async addPost(
    id: string,
    post: { content: string; author: string; postType?: HealthPost['postType'] },
  ): Promise<HealthIssue> {
    const issue = await this.require(id);
    const at = this.now();
    await this.db.transaction().execute(async (trx) => {
      await trx.updateTable('health_issues').set({ updated_at: at }).where('id', '=', issue.id).execute();
      await trx
        .insertInto('health_issue_posts')
        .values({
          issue_id: issue.id,
          created_at: at,
          post_type: post.postType ?? 'regular',
          status: issue.status,
          content: post.content,
          author: post.author,
        })
        .execute();
    });
    return (await this.get(issue.id))!;
  }

  private async withPosts(rows: HealthIssueTable[]): Promise<HealthIssue[]> {
    if (rows.length === 0) return [];
    const posts = await this.db
      .selectFrom('health_issue_posts')
      .selectAll()
      .where(
        'issue_id',
        'in',
        rows.map((r) => r.id),
      )
      .orderBy('created_at')
      .orderBy('id')
      .execute();
    return rows.map((row) => ({
      id: row.id,
      component: row.component as ComponentId,
      rule: row.rule,
      classification: row.classification as Classification,
      origin: row.origin as HealthIssue['origin'],
      status: parseStatus(row.status) ?? 'investigating',
      title: row.title,
      impactDescription: row.impact_description,
      feature: row.feature,
      featureGroup: row.feature_group,
      publicSummary: row.public_summary,
      scope: JSON.parse(row.scope) as IssueScope,
      isResolved: row.is_resolved === 1,
      startAt: Number(row.start_at),
      endAt: row.end_at === null ? null : Number(row.end_at),
      updatedAt: Number(row.updated_at),
      createdBy: row.created_by,
      posts: posts
        .filter((p) => p.issue_id === row.id)
        .map((p) => ({
          createdAt: Number(p.created_at),
          postType: p.post_type as HealthPost['postType'],
          status: parseStatus(p.status) ?? 'investigating',
          content: p.content,
          author: p.author,
        })),
    }));
  }
}
