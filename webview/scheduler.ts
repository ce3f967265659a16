/**
 * Runs work at most once per animation frame. requestAnimationFrame does not fire while a webview is hidden
 * (retainContextWhenHidden), so a timer is the fallback: whichever comes first runs the work, once.
 */
export class FrameScheduler {
  private pending = false;
  private frame = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly work: () => void, private readonly fallbackMs = 120) {}

  request(): void {
    if (this.pending) return;
    this.pending = true;
    this.frame = requestAnimationFrame(this.run);
    this.timer = setTimeout(this.run, this.fallbackMs);
  }

  /** Runs pending work now (e.g. before answering an export request). */
  flush(): void {
    if (this.pending) this.run();
  }

  private readonly run = (): void => {
    if (!this.pending) return;
    this.pending = false;
    cancelAnimationFrame(this.frame);
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.work();
  };
}
