/** The engine's front door for every transport: start a question as a session and get its log to follow. */
import { answerQuestion, classifyQuestion, runUserQuery, type EngineContext, type QuestionRequest, type UserQueryRequest } from './pipeline/single';
import { Session, type SessionOptions } from './session/session';

export interface StartedQuestion {
  session: Session;
  /** Resolves when the terminal event is in the session's log. */
  done: Promise<void>;
}

export class Engine {
  constructor(readonly context: EngineContext) {}

  ask(request: QuestionRequest, options: SessionOptions = {}): StartedQuestion {
    const session = new Session(options);
    const done = session.run((s) => answerQuestion(s, this.context, request));
    return { session, done };
  }

  /** Only chooses the sources for a question; the session's `databases_selected` event is the answer. */
  classify(request: QuestionRequest, options: SessionOptions = {}): StartedQuestion {
    const session = new Session(options);
    const done = session.run((s) => classifyQuestion(s, this.context, request));
    return { session, done };
  }

  /** Runs a query the user wrote, through the same validation and streaming as a generated one. */
  runQuery(request: UserQueryRequest, options: SessionOptions = {}): StartedQuestion {
    const session = new Session(options);
    const done = session.run((s) => runUserQuery(s, this.context, request));
    return { session, done };
  }

  async close(): Promise<void> {
    await Promise.all(this.context.sources.map((s) => s.close().catch(() => undefined)));
  }
}
