/**
 * The Activations page's run-level actions (run-level curve, direction from labels, SAE diff): each a button and
 * a line under it. They all teacher-force the run through the model in the engine host, so a remote run (header
 * backend "openai", no local model) gets them disabled, each with the reason in its line (and as the button's
 * title); a disabled button sends nothing.
 */
import { button } from '../components/controls';
import { h } from '../shared/dom';

export interface RunLevelAction {
  label: string;
  testId: string;
  title?: string;
  /** The line under the button until the action answers (or the reason it is disabled). */
  info: string;
  infoTestId?: string;
  onClick: () => void;
}

export class RunLevelActions {
  private reason: string | null = null;
  readonly buttons: HTMLElement[] = [];
  readonly infos: HTMLElement[] = [];
  private readonly defaults: { title: string | undefined; info: string }[] = [];

  constructor(actions: RunLevelAction[]) {
    for (const a of actions) {
      const b = button({ label: a.label, testId: a.testId, title: a.title, onClick: () => !this.reason && a.onClick() });
      this.buttons.push(b);
      this.infos.push(h('div', { class: 'muted', 'data-testid': a.infoTestId }, a.info));
      this.defaults.push({ title: a.title, info: a.info });
    }
  }

  /** The button row of action `i` and its line. */
  block(i: number): [HTMLElement, HTMLElement] {
    return [h('div', null, this.buttons[i]), this.infos[i]];
  }

  /** Disables every action with `reason` shown under each; null enables them again. */
  setDisabledReason(reason: string | null): void {
    this.reason = reason;
    this.buttons.forEach((b, i) => {
      if (reason) {
        b.setAttribute('disabled', '');
        b.setAttribute('aria-disabled', 'true');
        b.title = reason;
        this.infos[i].textContent = reason;
        this.infos[i].classList.add('disabled-reason');
      } else {
        b.removeAttribute('disabled');
        b.removeAttribute('aria-disabled');
        b.title = this.defaults[i].title ?? '';
        this.infos[i].textContent = this.defaults[i].info;
        this.infos[i].classList.remove('disabled-reason');
      }
    });
  }

  get disabledReason(): string | null {
    return this.reason;
  }
}
