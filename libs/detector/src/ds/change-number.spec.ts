import { ChangeNumber, InvalidChangeNumberError } from './change-number';

describe('ChangeNumber', () => {
  it('parses the decimal text servers and checkpoints carry, and formats it back unchanged', () => {
    expect(ChangeNumber.parse('42').format()).toBe('42');
    expect(ChangeNumber.parse(' 7 ').format()).toBe('7');
    expect(ChangeNumber.parse('0').equals(ChangeNumber.ZERO)).toBe(true);
  });

  it.each(['', '-1', '1.5', 'abc', '12a', '1e3', '9999999999999999'])('refuses %j', (text) => {
    expect(() => ChangeNumber.parse(text)).toThrow(InvalidChangeNumberError);
  });

  it('orders numerically, not as text', () => {
    const nine = ChangeNumber.parse('9');
    const ten = ChangeNumber.parse('10');
    expect(nine.isBefore(ten)).toBe(true);
    expect(ten.compare(nine)).toBe(1);
    expect([ten, nine].sort((a, b) => a.compare(b)).map((c) => c.format())).toEqual(['9', '10']);
    expect(ChangeNumber.max(nine, ten)).toBe(ten);
    expect(ChangeNumber.min(nine, ten)).toBe(nine);
  });

  it('steps forward and back and measures distances', () => {
    const five = ChangeNumber.parse('5');
    expect(five.next().format()).toBe('6');
    expect(five.plus(10).format()).toBe('15');
    expect(five.previous().format()).toBe('4');
    expect(ChangeNumber.ZERO.previous()).toBe(ChangeNumber.ZERO);
    expect(five.plus(10).distanceFrom(five)).toBe(10);
    expect(five.distanceFrom(five.plus(3))).toBe(0);
    expect(() => five.plus(-1)).toThrow(RangeError);
  });
});
