/** Follows a session's log from its first event to its terminal one, handing each to a renderer. */
import type { CenecaEvent, EventOf } from '../core/events';
import type { Session } from '../core/session/session';
import type { Renderer } from './render';

export type TerminalEvent = EventOf<'complete'> | EventOf<'error'>;

export async function followSession(session: Session, render: Renderer): Promise<TerminalEvent> {
  let last: CenecaEvent | undefined;
  for await (const event of session.log.subscribe(0)) {
    last = event;
    await render(event);
  }
  if (!last || (last.type !== 'complete' && last.type !== 'error')) throw new Error('the session ended without a terminal event');
  return last;
}
