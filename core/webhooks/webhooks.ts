/**
 * Webhooks: the server's (BEAM_WEBHOOK_URL) and each channel's own. One per process, shared by the roles in it.
 *
 * - Admission (`publish`): `admit()` asks every webhook that concerns the channel at once, each within the
 *   timeout, and never rejects: any refusal refuses; a webhook that gives no answer (down, slow, an answer
 *   over the size bound) counts as the configured default (BEAM_WEBHOOK_ADMISSION_DEFAULT). Nothing is queued:
 *   one attempt, so the publisher waits at most the timeout, and other channels not at all.
 * - Notifications: `notify()` returns at once; the delivery waits in a bounded in-memory queue (the oldest is
 *   dropped, and counted, when it is full), is sent by at most a few concurrent requests, and is retried with
 *   exponential backoff when the receiver gave no answer, 408, 429 or a 5xx.
 * - Every delivery is signed (signature.ts), recorded in a bounded log (delivery-log.ts) and counted in
 *   metrics. Logs name the event, channel and host, never the URL's path or query, nor a secret.
 *
 *   const hooks = createWebhooks({ log, registry }, { url, secret, timeoutMs: 2000, admissionDefault: 'allow', ... });
 *   const d = await hooks.admit({ channel, protocol: 'srt', peer }, channel.webhook);   // d.allow, d.reason
 *   hooks.notify({ event: 'channel.live', channel, requestId, protocol: 'srt' }, channel.webhook);
 *   await hooks.close();
 */

import { randomUUID } from 'node:crypto';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { webhookHost, type ChannelWebhook, type WebhookEvent } from '../model/webhook';
import { bodyText, parseAdmissionAnswer, type IngestProtocol, type PeerAddress, type WebhookNotice } from './bodies';
import { createBoundedQueue, type Queued } from './delivery-queue';
import { createDeliveryLog, type DeliveryRecord } from './delivery-log';
import { postJson, type HttpPost } from './http-post';
import { backoffMs, isRetryable, MAX_RETRY_DELAY_MS } from './retry';
import { signedHeaders } from './signature';

export interface WebhooksConfig {
  /** The server's webhook, or null (channels may still have their own). */
  url: string | null;
  secret: string | null;
  /** One HTTP exchange (an admission, or one attempt of a notification), ms. */
  timeoutMs: number;
  /** What a publish gets when a webhook gives no answer in time. */
  admissionDefault: 'allow' | 'deny';
  /** Retries of a notification after its first attempt. */
  retries: number;
  /** The first retry's wait, ms; doubled each time, at most MAX_RETRY_DELAY_MS. */
  retryDelayMs: number;
  /** Notifications waiting at once (first attempts and retries); beyond, the oldest is dropped. */
  queueLimit: number;
  /** Deliveries kept for the delivery log. */
  logSize: number;
  /** Notifications sent at once (default 4). */
  concurrency?: number;
  /** Most bytes of an answer read (default 64 KiB). */
  maxResponseBytes?: number;
}

export interface WebhooksLog {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface WebhooksDeps {
  log: WebhooksLog;
  /** Where the webhook metrics go (none without). */
  registry?: Registry;
  /** The HTTP seam (default: fetch). */
  post?: HttpPost;
  now?: () => number;
}

export interface PublishRequest {
  channel: string;
  protocol: IngestProtocol;
  peer: PeerAddress;
}

export interface AdmissionDecision {
  allow: boolean;
  /** For a refusal: why, for the operator (the channel status, logs: names the webhook's host); null when allowed. */
  reason: string | null;
  /** For a refusal: what the publisher may be told (the receiver's own reason, no host); null when allowed. */
  clientReason: string | null;
  /** Ties the publish to its later publisher.connected / publisher.disconnected. */
  requestId: string;
  /** `none`: no webhook concerns the channel; `default`: a webhook gave no answer and the default decided. */
  decidedBy: 'webhook' | 'default' | 'none';
}

export interface WebhookQueueStats {
  /** Notifications waiting (first attempts and retries). */
  queued: number;
  inFlight: number;
  /** Notifications dropped from a full queue (or left at shutdown) since start. */
  dropped: number;
}

export interface Webhooks {
  /** Whether a publish on a channel with this webhook must be asked about (a server or channel webhook exists). */
  admits(channelHook?: ChannelWebhook | null): boolean;
  admit(req: PublishRequest, channelHook?: ChannelWebhook | null): Promise<AdmissionDecision>;
  /** Queues a notification for every webhook that concerns the channel; returns at once. */
  notify(notice: Exclude<WebhookNotice, { event: 'publish' }>, channelHook?: ChannelWebhook | null): void;
  /** The newest deliveries, newest first. */
  deliveries(limit?: number): DeliveryRecord[];
  readonly logCapacity: number;
  queue(): WebhookQueueStats;
  /** Stops taking notifications; what is queued gets one more attempt within the timeout, the rest is dropped. */
  close(): Promise<void>;
}

interface Target {
  kind: 'server' | 'channel';
  url: string;
  secret: string;
}

interface Delivery extends Queued {
  id: string;
  event: WebhookEvent;
  channel: string;
  target: Target;
  body: string;
  createdAt: number;
  attempts: number;
  /** Its one last attempt while shutting down was made (or is being made). */
  lastChance?: boolean;
  durationMs: number;
  status: number | null;
  error: string | null;
}

export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024;

type Outcome = DeliveryRecord['outcome'];

function metricIn<T>(registry: Registry, name: string, make: () => T): T {
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

function createWebhookMetrics(registry: Registry | undefined, queueStats: () => WebhookQueueStats) {
  if (!registry) return null;
  const deliveries = metricIn(registry, 'beam_webhook_deliveries_total', () => new Counter({
    name: 'beam_webhook_deliveries_total',
    help: 'Webhook deliveries by event and outcome: delivered (a 2xx; an admission: any answer), failed (no 2xx after the last attempt), dropped (a full queue, or shutdown)',
    labelNames: ['event', 'outcome'],
    registers: [registry],
  }));
  const decisions = metricIn(registry, 'beam_webhook_admission_decisions_total', () => new Counter({
    name: 'beam_webhook_admission_decisions_total',
    help: 'Publish admissions asked of webhooks, by decision (allow, deny) and what decided (webhook: every webhook answered or one refused; default: a webhook gave no answer)',
    labelNames: ['decision', 'by'],
    registers: [registry],
  }));
  const latency = metricIn(registry, 'beam_webhook_admission_seconds', () => new Histogram({
    name: 'beam_webhook_admission_seconds',
    help: 'Time from a publish to its admission decision (every webhook asked at once, each within the timeout)',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [registry],
  }));
  metricIn(registry, 'beam_webhook_queue_length', () => new Gauge({
    name: 'beam_webhook_queue_length',
    help: 'Webhook notifications waiting to be sent (first attempts and retries after their backoff)',
    registers: [registry],
    collect() {
      this.set(queueStats().queued);
    },
  }));
  for (const event of ['publish', 'publisher.connected', 'publisher.disconnected', 'channel.live', 'channel.idle']) {
    for (const outcome of ['delivered', 'failed', 'dropped']) deliveries.inc({ event, outcome }, 0);
  }
  return { deliveries, decisions, latency };
}

export function createWebhooks(deps: WebhooksDeps, config: WebhooksConfig): Webhooks {
  const { log } = deps;
  const now = deps.now ?? Date.now;
  const post = deps.post ?? postJson;
  const concurrency = config.concurrency ?? DEFAULT_CONCURRENCY;
  const maxResponseBytes = config.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  const server: Target | null = config.url && config.secret ? { kind: 'server', url: config.url, secret: config.secret } : null;
  const queue = createBoundedQueue<Delivery>(config.queueLimit);
  const history = createDeliveryLog(config.logSize);
  let seq = 0;
  let inFlight = 0;
  let dropped = 0;
  let timer: NodeJS.Timeout | null = null;
  let timerAt = Infinity;
  let closing = false;
  /** Resolves close() once nothing is queued or in flight. */
  let idle: (() => void) | null = null;
  const stats = (): WebhookQueueStats => ({ queued: queue.size, inFlight, dropped });
  const metrics = createWebhookMetrics(deps.registry, stats);

  function targetsOf(channelHook: ChannelWebhook | null | undefined): Target[] {
    const out: Target[] = [];
    if (server) out.push(server);
    if (channelHook) out.push({ kind: 'channel', url: channelHook.url, secret: channelHook.secret });
    return out;
  }

  function record(d: Pick<Delivery, 'id' | 'event' | 'channel' | 'target' | 'attempts' | 'durationMs' | 'status' | 'error' | 'createdAt'>, outcome: Outcome, decision?: 'allow' | 'deny'): void {
    history.add({
      id: d.id, event: d.event, channel: d.channel, target: d.target.kind, host: webhookHost(d.target.url), outcome,
      status: d.status, error: d.error, attempts: d.attempts, durationMs: Math.round(d.durationMs),
      at: new Date(d.createdAt).toISOString(), finishedAt: new Date(now()).toISOString(), ...(decision ? { decision } : {}),
    });
    metrics?.deliveries.inc({ event: d.event, outcome });
  }

  function logFields(d: Delivery): object {
    return { event: d.event, channel: d.channel, target: d.target.kind, host: webhookHost(d.target.url), attempts: d.attempts, status: d.status, error: d.error };
  }

  function finish(d: Delivery, outcome: Outcome): void {
    record(d, outcome);
    if (outcome === 'dropped') {
      dropped++;
      log.warn(logFields(d), closing ? 'webhook notification dropped: shutting down' : 'webhook notification dropped: the queue is full (the oldest goes)');
    } else if (outcome === 'failed') {
      log.warn(logFields(d), 'webhook notification failed');
    }
  }

  function enqueue(d: Delivery): void {
    const out = queue.push(d);
    if (out) finish(out, 'dropped');
    schedule();
  }

  async function attempt(d: Delivery): Promise<void> {
    d.attempts++;
    const started = now();
    try {
      const res = await post(d.target.url, d.body, signedHeaders(d.target.secret, d.body, started, d.event, d.id), { timeoutMs: config.timeoutMs, maxResponseBytes });
      d.status = res.status;
      d.error = null;
    } catch (err) {
      d.status = null;
      d.error = err instanceof Error ? err.message : String(err);
    }
    d.durationMs += now() - started;
    if (d.status !== null && d.status >= 200 && d.status < 300) {
      finish(d, 'delivered');
      return;
    }
    if (closing) {
      // Shutting down: an attempt that was already in flight when close() began and failed gets the one last
      // attempt every queued notification gets (it was not in the queue to be given it).
      if (!d.lastChance && isRetryable(d.status)) {
        d.lastChance = true;
        d.dueAt = now();
        enqueue(d);
        return;
      }
      finish(d, 'failed');
      return;
    }
    if (d.attempts <= config.retries && isRetryable(d.status)) {
      d.dueAt = now() + backoffMs(d.attempts, config.retryDelayMs, MAX_RETRY_DELAY_MS);
      enqueue(d);
      return;
    }
    finish(d, 'failed');
  }

  function pump(): void {
    while (inFlight < concurrency) {
      const d = queue.takeDue(closing ? Infinity : now());
      if (!d) break;
      if (closing) d.lastChance = true;
      inFlight++;
      void attempt(d).finally(() => {
        inFlight--;
        pump();
      });
    }
    schedule();
    if (idle && queue.size === 0 && inFlight === 0) idle();
  }

  /** Wakes the pump when the earliest waiting delivery is due (one timer, never sooner than needed). */
  function schedule(): void {
    const next = queue.nextDueAt();
    if (next === null || inFlight >= concurrency) return;
    const at = Math.max(next, now());
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(() => {
      timer = null;
      timerAt = Infinity;
      pump();
    }, at - now());
    timer.unref();
  }

  async function ask(target: Target, req: PublishRequest, requestId: string): Promise<{ allow: boolean | null; reason: string | null; target: Target }> {
    const createdAt = now();
    const id = randomUUID();
    const d: Delivery = {
      seq: seq++, dueAt: createdAt, id, event: 'publish', channel: req.channel, target, createdAt,
      body: bodyText({ event: 'publish', channel: req.channel, requestId, protocol: req.protocol, peer: req.peer }, id, createdAt),
      attempts: 1, durationMs: 0, status: null, error: null,
    };
    let guard: NodeJS.Timeout | undefined;
    // The seam has its own timeout; this guard keeps the promise to answer within it whatever the seam does.
    const timeout = new Promise<never>((_, reject) => {
      guard = setTimeout(() => reject(new Error(`no answer within ${config.timeoutMs} ms`)), config.timeoutMs + 50);
    });
    let verdict: { allow: boolean | null; reason: string | null };
    try {
      const res = await Promise.race([post(target.url, d.body, signedHeaders(target.secret, d.body, createdAt, 'publish', d.id), { timeoutMs: config.timeoutMs, maxResponseBytes }), timeout]);
      d.status = res.status;
      const answer = parseAdmissionAnswer(res.status, res.body, res.truncated);
      if (answer.kind === 'answer') verdict = { allow: answer.allow, reason: answer.reason };
      else {
        d.error = answer.reason;
        verdict = { allow: null, reason: answer.reason };
      }
    } catch (err) {
      d.error = err instanceof Error ? err.message : String(err);
      verdict = { allow: null, reason: d.error };
    } finally {
      clearTimeout(guard);
    }
    d.durationMs = now() - createdAt;
    const decision = verdict.allow ?? config.admissionDefault === 'allow';
    record(d, verdict.allow === null ? 'failed' : 'delivered', decision ? 'allow' : 'deny');
    if (verdict.allow === null) {
      log.warn({ ...logFields(d), default: config.admissionDefault }, `admission webhook gave no answer: the default (${config.admissionDefault}) decides`);
    }
    return { ...verdict, target };
  }

  return {
    admits: (channelHook) => targetsOf(channelHook).length > 0,

    async admit(req, channelHook) {
      const requestId = randomUUID();
      const targets = targetsOf(channelHook);
      if (targets.length === 0) return { allow: true, reason: null, clientReason: null, requestId, decidedBy: 'none' };
      const started = now();
      const answers = await Promise.all(targets.map((t) => ask(t, req, requestId)));
      metrics?.latency.observe((now() - started) / 1000);
      const refused = answers.find((a) => a.allow === false);
      const silent = answers.find((a) => a.allow === null);
      let decision: AdmissionDecision;
      if (refused) {
        decision = {
          allow: false, reason: `refused by the admission webhook (${webhookHost(refused.target.url)}): ${refused.reason ?? 'no reason given'}`,
          clientReason: `refused: ${refused.reason ?? 'no reason given'}`, requestId, decidedBy: 'webhook',
        };
      } else if (silent) {
        const allow = config.admissionDefault === 'allow';
        decision = {
          allow,
          reason: allow ? null : `the admission webhook (${webhookHost(silent.target.url)}) gave no answer (${silent.reason ?? 'unknown'}) and BEAM_WEBHOOK_ADMISSION_DEFAULT is deny`,
          clientReason: allow ? null : 'refused: admission unavailable', requestId, decidedBy: 'default',
        };
      } else {
        decision = { allow: true, reason: null, clientReason: null, requestId, decidedBy: 'webhook' };
      }
      metrics?.decisions.inc({ decision: decision.allow ? 'allow' : 'deny', by: decision.decidedBy });
      return decision;
    },

    notify(notice, channelHook) {
      if (closing) return;
      for (const target of targetsOf(channelHook)) {
        const createdAt = now();
        const id = randomUUID();
        enqueue({
          seq: seq++, dueAt: createdAt, id, event: notice.event, channel: notice.channel, target, createdAt,
          body: bodyText(notice, id, createdAt), attempts: 0, durationMs: 0, status: null, error: null,
        });
      }
      pump();
    },

    deliveries: (limit) => history.list(limit),
    logCapacity: config.logSize,
    queue: stats,

    async close() {
      if (closing) return;
      closing = true;
      if (queue.size > 0 || inFlight > 0) {
        // What is queued gets one last attempt (no retries, no backoff wait), all within about one timeout.
        await new Promise<void>((resolve) => {
          const deadline = setTimeout(resolve, config.timeoutMs + 100);
          deadline.unref();
          idle = () => {
            clearTimeout(deadline);
            resolve();
          };
          pump();
        });
      }
      idle = null;
      if (timer) clearTimeout(timer);
      timer = null;
      for (const d of queue.drain()) finish(d, 'dropped');
    },
  };
}
