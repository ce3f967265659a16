/**
 * A question's route: classification chooses the sources; one source is answered by the single-source pipeline,
 * several (or `cross: true`) by a cross-database plan.
 */
import type { CompleteSummary, Session } from '../session/session';
import { answerAcrossSources } from './cross';
import { sessionScope } from './scope';
import { answerFromSource, checkQuestion, QuestionRun, type EngineContext, type QuestionRequest } from './single';

export async function answerQuestion(session: Session, context: EngineContext, request: QuestionRequest): Promise<CompleteSummary> {
  const started = Date.now();
  const question = checkQuestion(request.question);
  const lead = new QuestionRun(sessionScope(session), context, request);
  const choices = await lead.chooseSources(question);
  if (choices.length > 1 || request.cross) return answerAcrossSources(session, context, request, lead, question, choices);
  return answerFromSource(lead, context, request, question, choices[0]!.source, started);
}
