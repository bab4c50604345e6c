// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { Shortcuts } from './shortcuts';

const pushed = vi.hoisted(() => [] as string[]);
vi.mock('next/navigation', () => ({ useRouter: () => ({ push: (u: string) => pushed.push(u) }) }));

const NAV = [
  { href: '/', label: 'Overview', key: 'o' },
  { href: '/broker', label: 'Broker', key: 'b' },
];

const press = (key: string, init: KeyboardEventInit = {}, target: Element | Window = window) => act(() => void fireEvent.keyDown(target, { key, ...init }));

beforeEach(() => {
  pushed.length = 0;
  delete document.documentElement.dataset.theme;
  vi.useFakeTimers();
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

describe('Shortcuts', () => {
  it('navigates on g then a page key, within 1.5 s, and only once', () => {
    render(<Shortcuts nav={NAV} />);
    press('g');
    press('b');
    expect(pushed).toEqual(['/broker']);
    press('o');
    expect(pushed).toEqual(['/broker']);
    press('g');
    act(() => vi.advanceTimersByTime(1600));
    press('o');
    expect(pushed).toEqual(['/broker']);
    press('g');
    press('x');
    press('o');
    expect(pushed).toEqual(['/broker']);
  });

  it('leaves keys typed into a field, and keys with Ctrl, Alt or Meta, alone', () => {
    render(
      <>
        <input data-testid="field" />
        <Shortcuts nav={NAV} />
      </>,
    );
    const field = screen.getByTestId('field');
    press('g', {}, field);
    press('b', {}, field);
    press('t', {}, field);
    press('g', { ctrlKey: true });
    press('b');
    press('t', { metaKey: true });
    expect(pushed).toEqual([]);
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });

  it('switches the theme on t', () => {
    render(<Shortcuts nav={NAV} />);
    press('t');
    expect(document.documentElement.dataset.theme).toBe('light');
    press('t');
    expect(document.documentElement.dataset.theme).toBe('dark');
  });

  it('opens and closes the list of shortcuts on ?', () => {
    render(<Shortcuts nav={NAV} />);
    const list = screen.getByTestId('shortcuts') as HTMLDialogElement;
    expect(list.open).toBe(false);
    press('?');
    expect(list.open).toBe(true);
    expect(list.textContent).toMatch(/go to Overview, Live, Console, Calls, Broker/);
    press('?');
    expect(list.open).toBe(false);
  });
});
