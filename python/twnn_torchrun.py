#!/usr/bin/python3
"""torchrun (torch.distributed.run) as `twnn train --engine torch` launches it.

Python 3.11 iterates an IntFlag without its 0 and multi-bit members, so torch
1.13's `Std.from_str('0')` (the default --redirects and --tee) finds no member
and returns None, and torchrun fails before it starts a worker
("'NoneType' object has no attribute 'get'"). Std(int) is the same lookup done
by value; newer torch does the same. Everything else is torchrun's own.
"""
import re
import sys

from torch.distributed.elastic.multiprocessing import api


def from_str(vm):
    if re.fullmatch(r'\d', vm):
        return api.Std(int(vm))
    if re.fullmatch(r'(\d:\d,)*\d:\d', vm):
        return {int(i): api.Std(int(v)) for i, v in (m.split(':') for m in vm.split(','))}
    raise ValueError(f'{vm} does not match: <num> or <num>:<num>,...')


if api.Std.from_str('0') is None:
    api.Std.from_str = staticmethod(from_str)

if __name__ == '__main__':
    from torch.distributed.run import main
    sys.exit(main())
