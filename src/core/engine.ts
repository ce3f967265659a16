/**
 * The engine's front door for every transport: start a question as a session and get its log to follow.
 * With a session manager, sessions queue for a free slot and stay findable by id; without one (the CLI, the
 * editor), each runs at once.
 */
import { answerQuestion } from './pipeline/answer';
import { classifyQuestion, runUserQuery, type EngineContext, type QuestionRequest, type UserQueryRequest } from './pipeline/single';
import type { SessionManager, StartOptions } from './session/manager';
import { Session, type CompleteSummary } from './session/session';

export interface StartedQuestion {
  session: Session;
  /** Resolves when the terminal event is in the session's log. */
  done: Promise<void>;
}

export class Engine {
  constructor(
    readonly context: EngineContext,
    private readonly manager?: SessionManager,
  ) {}

  ask(request: QuestionRequest, options: StartOptions = {}): StartedQuestion {
    return this.start((s) => answerQuestion(s, this.context, request), { kind: 'query', question: request.question, ...options });
  }

  /** A cross-database answer: a plan across the sources, even when one source would do. */
  askCross(request: QuestionRequest, options: StartOptions = {}): StartedQuestion {
    return this.ask({ ...request, cross: true }, options);
  }

  /** Only chooses the sources for a question; the session's `databases_selected` event is the answer. */
  classify(request: QuestionRequest, options: StartOptions = {}): StartedQuestion {
    return this.start((s) => classifyQuestion(s, this.context, request), { kind: 'classify', question: request.question, ...options });
  }

  /** Runs a query the user wrote, through the same validation and streaming as a generated one. */
  runQuery(request: UserQueryRequest, options: StartOptions = {}): StartedQuestion {
    return this.start((s) => runUserQuery(s, this.context, request), { kind: 'user_query', question: request.query, ...options });
  }

  async close(): Promise<void> {
    await this.manager?.close();
    await Promise.all(this.context.sources.map((s) => s.close().catch(() => undefined)));
  }

  private start(work: (session: Session) => Promise<CompleteSummary>, options: StartOptions): StartedQuestion {
    if (this.manager) {
      const managed = this.manager.start(work, options);
      return { session: managed.session, done: managed.done };
    }
    const { priority: _priority, kind: _kind, question: _question, ...sessionOptions } = options;
    const session = new Session(sessionOptions);
    return { session, done: session.run(work) };
  }
}
