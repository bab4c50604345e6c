// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import { useState } from 'react';
import { Drawer, rowKeys } from './drawer';

afterEach(cleanup);

function Table({ onOpen }: { onOpen: (i: number) => void }) {
  return (
    <table>
      <tbody onKeyDown={rowKeys(onOpen)} data-testid="body">
        {['a', 'b', 'c', 'd'].map((n) => (
          <tr key={n} tabIndex={0} data-testid={`row-${n}`}>
            <td>
              {n} <button type="button">act {n}</button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

describe('rowKeys: table keyboard navigation', () => {
  it('moves focus with ↑/↓, Home and End, stopping at the ends', () => {
    render(<Table onOpen={() => undefined} />);
    const row = (n: string) => screen.getByTestId(`row-${n}`);
    row('a').focus();
    fireEvent.keyDown(row('a'), { key: 'ArrowDown' });
    expect(document.activeElement).toBe(row('b'));
    fireEvent.keyDown(row('b'), { key: 'ArrowDown' });
    expect(document.activeElement).toBe(row('c'));
    fireEvent.keyDown(row('c'), { key: 'ArrowUp' });
    expect(document.activeElement).toBe(row('b'));
    fireEvent.keyDown(row('b'), { key: 'End' });
    expect(document.activeElement).toBe(row('d'));
    fireEvent.keyDown(row('d'), { key: 'ArrowDown' });
    expect(document.activeElement).toBe(row('d'));
    fireEvent.keyDown(row('d'), { key: 'Home' });
    expect(document.activeElement).toBe(row('a'));
    fireEvent.keyDown(row('a'), { key: 'ArrowUp' });
    expect(document.activeElement).toBe(row('a'));
  });

  it('opens the focused row on Enter, but not when Enter is pressed on a control inside the row', () => {
    const onOpen = vi.fn();
    render(<Table onOpen={onOpen} />);
    fireEvent.keyDown(screen.getByTestId('row-c'), { key: 'Enter' });
    expect(onOpen).toHaveBeenCalledExactlyOnceWith(2);
    fireEvent.keyDown(screen.getByRole('button', { name: 'act b' }), { key: 'Enter' });
    expect(onOpen).toHaveBeenCalledTimes(1);
  });

  it('ignores other keys and lets them through', () => {
    const onOpen = vi.fn();
    render(<Table onOpen={onOpen} />);
    const row = screen.getByTestId('row-b');
    row.focus();
    const notPrevented = fireEvent.keyDown(row, { key: 'x' });
    expect(notPrevented).toBe(true);
    expect(document.activeElement).toBe(row);
    expect(onOpen).not.toHaveBeenCalled();
  });
});

function WithDrawer() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        open
      </button>
      {open && (
        <Drawer title="Queue compute" onClose={() => setOpen(false)} testId="drawer">
          details
        </Drawer>
      )}
    </>
  );
}

describe('Drawer', () => {
  it('is a dialog labelled by its title that takes focus, closes on Esc and gives focus back to its opener', () => {
    render(<WithDrawer />);
    const opener = screen.getByRole('button', { name: 'open' });
    opener.focus();
    fireEvent.click(opener);
    const dialog = screen.getByRole('dialog', { name: 'Queue compute' });
    expect(document.activeElement).toBe(dialog);
    fireEvent.keyDown(window, { key: 'Escape' });
    expect(screen.queryByTestId('drawer')).toBeNull();
    expect(document.activeElement).toBe(opener);
  });

  it('closes with its Close button', () => {
    render(<WithDrawer />);
    fireEvent.click(screen.getByRole('button', { name: 'open' }));
    fireEvent.click(screen.getByTestId('drawer-close'));
    expect(screen.queryByRole('dialog')).toBeNull();
  });
});
