/**
 * Our controls, built on the toolkit's custom elements by tag name (the elements themselves are
 * defined by registerComponents() in register.ts). Callers get plain HTMLElements and callbacks
 * with plain values, never toolkit types, so the toolkit can be swapped in this folder alone.
 * Labels are text nodes (h() never parses markup).
 */
import { h } from '../shared/dom';

export interface CheckboxOptions {
  label: string;
  checked: boolean;
  onChange: (checked: boolean) => void;
  testId?: string;
  title?: string;
}

export function checkbox(opts: CheckboxOptions): HTMLElement {
  const el = h(
    'vscode-checkbox',
    { 'data-testid': opts.testId, title: opts.title, checked: opts.checked, 'aria-checked': String(opts.checked) },
    opts.label,
  );
  (el as HTMLElement & { checked?: boolean }).checked = opts.checked;
  el.addEventListener('change', () => {
    const checked = Boolean((el as HTMLElement & { checked?: boolean }).checked);
    if (checked !== opts.checked) opts.onChange(checked);
  });
  return el;
}

export interface DropdownOptions {
  /** Accessible name (the toolkit's dropdown has no visible label of its own). */
  label: string;
  value: string;
  options: { value: string; label: string }[];
  onChange: (value: string) => void;
  testId?: string;
}

export function dropdown(opts: DropdownOptions): HTMLElement {
  const el = h(
    'vscode-dropdown',
    { 'data-testid': opts.testId, 'aria-label': opts.label, title: opts.label },
    opts.options.map((o) => h('vscode-option', { value: o.value, selected: o.value === opts.value }, o.label)),
  );
  (el as HTMLElement & { value?: string }).value = opts.value;
  el.addEventListener('change', () => {
    const value = (el as HTMLElement & { value?: string }).value;
    if (typeof value === 'string' && value !== opts.value) opts.onChange(value);
  });
  return el;
}

export interface ButtonOptions {
  label: string;
  onClick: () => void;
  appearance?: 'primary' | 'secondary';
  title?: string;
  testId?: string;
  disabled?: boolean;
  /** Extra data-* attributes (names without the data- prefix). */
  data?: Record<string, string>;
}

export function button(opts: ButtonOptions): HTMLElement {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(opts.data ?? {})) data[`data-${k}`] = v;
  return h(
    'vscode-button',
    {
      appearance: opts.appearance ?? 'secondary',
      title: opts.title,
      'data-testid': opts.testId,
      disabled: opts.disabled,
      ...data,
      onclick: () => {
        if (!opts.disabled) opts.onClick();
      },
      onkeydown: (e: Event) => activateOnKey(e as KeyboardEvent, () => {
        if (!opts.disabled) opts.onClick();
      }),
    },
    opts.label,
  );
}

/**
 * Enter and Space activate a button. The toolkit's button gets them from a native <button> inside its shadow root,
 * which a DOM without the toolkit's components (happy-dom in the unit tests) lacks. Activating here and cancelling
 * the key's default action (so the native button does not also click: Chromium activates on the keydown's
 * keypress for Enter and on keyup after an uncancelled keydown for Space) gives exactly one activation in both.
 */
function activateOnKey(e: KeyboardEvent, activate: () => void): void {
  if ((e.key !== 'Enter' && e.key !== ' ') || e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
  e.preventDefault();
  if (!e.repeat) activate();
}

/** A small non-interactive label (e.g. a variant name or a judge label). */
export function tag(text: string, attrs: Record<string, string | undefined> = {}): HTMLElement {
  return h('vscode-tag', attrs, text);
}

export function divider(): HTMLElement {
  return h('vscode-divider', { role: 'separator' });
}

/** Whether an event target is inside one of our controls (keys typed there belong to the control). */
export function isInsideControl(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== 'function') return false;
  return (target as Element).closest('vscode-dropdown, vscode-checkbox, vscode-button, input, select, textarea, button, summary') !== null;
}
