// @vitest-environment happy-dom
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { THEME_BOOT, THEME_KEY, ThemeToggle, cycleTheme } from './theme';

const root = () => document.documentElement;

beforeEach(() => {
  localStorage.clear();
  delete root().dataset.theme;
});
afterEach(cleanup);

describe('ThemeToggle', () => {
  it('cycles system → light → dark → system, on the page and in storage', () => {
    render(<ThemeToggle />);
    const button = screen.getByTestId('theme-toggle');
    expect(button.getAttribute('data-theme-choice')).toBe('system');
    const seen: [string | undefined, string | null, string | null][] = [];
    for (let i = 0; i < 3; i++) {
      fireEvent.click(button);
      seen.push([root().dataset.theme, localStorage.getItem(THEME_KEY), button.getAttribute('data-theme-choice')]);
    }
    expect(seen).toEqual([
      ['light', 'light', 'light'],
      ['dark', 'dark', 'dark'],
      [undefined, null, 'system'],
    ]);
    expect(button.textContent).toMatch(/Theme: system/);
  });

  it('shows a choice made elsewhere (the t shortcut) and one made before it mounted', () => {
    root().dataset.theme = 'dark';
    render(<ThemeToggle />);
    const button = screen.getByTestId('theme-toggle');
    expect(button.getAttribute('data-theme-choice')).toBe('dark');
    act(() => cycleTheme());
    expect(button.getAttribute('data-theme-choice')).toBe('system');
    expect(button.getAttribute('title')).toBe('Theme: system (press t to change)');
  });

  it('keeps working when storage is refused', () => {
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = () => {
      throw new Error('QuotaExceededError');
    };
    try {
      render(<ThemeToggle />);
      fireEvent.click(screen.getByTestId('theme-toggle'));
      expect(root().dataset.theme).toBe('light');
    } finally {
      Storage.prototype.setItem = setItem;
    }
  });
});

describe('THEME_BOOT, run before the first paint', () => {
  it('applies a stored light or dark choice and ignores anything else', () => {
    const boot = new Function(THEME_BOOT);
    localStorage.setItem(THEME_KEY, 'dark');
    boot();
    expect(root().dataset.theme).toBe('dark');
    delete root().dataset.theme;
    localStorage.setItem(THEME_KEY, 'purple');
    boot();
    expect(root().dataset.theme).toBeUndefined();
  });
});
