"""An independent checker of DRAM command traces against the JEDEC constraints (tests only).

It re-derives every constraint from the raw trace, in time order, with its own bookkeeping, so
it shares no logic with the engine's closed-form placement.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

ACT, PRE, RD, WR, REF = 0, 1, 2, 3, 4


def check_trace(trace: dict[str, np.ndarray], t: dict[str, int], burst_ps: int, banks_per_group: int) -> list[str]:
    """Return a list of violations (empty when the trace obeys every constraint)."""
    errors: list[str] = []
    order = np.lexsort((trace["command"] == ACT, trace["time_ps"]))  # at one time stamp, PRE before ACT
    by_pc: dict[int, list[tuple[int, int, int, int, int]]] = defaultdict(list)
    for i in order:
        by_pc[int(trace["pc"][i])].append(
            (int(trace["time_ps"][i]), int(trace["command"][i]), int(trace["bank_group"][i]), int(trace["bank"][i]),
             int(trace["row"][i]))
        )  # fmt: skip
    neg = -(10**18)
    for pc, cmds in by_pc.items():
        open_row: dict[tuple[int, int], int] = {}
        last_act: dict[tuple[int, int], int] = defaultdict(lambda: neg)
        last_pre: dict[tuple[int, int], int] = defaultdict(lambda: neg)
        last_rd_bank: dict[tuple[int, int], int] = defaultdict(lambda: neg)
        last_wr_end_bank: dict[tuple[int, int], int] = defaultdict(lambda: neg)
        act_bg: dict[int, int] = defaultdict(lambda: neg)
        col_bg: dict[int, int] = defaultdict(lambda: neg)
        wr_end_bg: dict[int, int] = defaultdict(lambda: neg)
        acts: list[int] = []
        act_pc = col_pc = rd_pc = wr_end_pc = last_ref = neg
        data: list[tuple[int, int]] = []

        def need(cond: bool, what: str, time: int) -> None:
            if not cond:
                errors.append(f"pc {pc} @ {time} ps: {what}")

        for time, cmd, bg, bank, row in cmds:
            key = (bg, bank)
            if cmd == ACT:
                need(key not in open_row, "ACT to an open bank", time)
                need(time >= last_pre[key] + t["tRP"], "tRP", time)
                need(time >= last_act[key] + t["tRC"], "tRC", time)
                need(time >= act_pc + t["tRRD_S"], "tRRD_S", time)
                need(time >= act_bg[bg] + t["tRRD_L"], "tRRD_L", time)
                need(len(acts) < 4 or time >= acts[-4] + t["tFAW"], "tFAW", time)
                need(time >= last_ref + t["tRFC"], "tRFC", time)
                open_row[key] = row
                last_act[key] = act_pc = act_bg[bg] = time
                acts.append(time)
            elif cmd == PRE:
                need(key in open_row, "PRE to a closed bank", time)
                need(time >= last_act[key] + t["tRAS"], "tRAS", time)
                need(time >= last_rd_bank[key] + t["tRTP"], "tRTP", time)
                need(time >= last_wr_end_bank[key] + t["tWR"], "tWR", time)
                open_row.pop(key, None)
                last_pre[key] = time
            elif cmd in (RD, WR):
                need(key in open_row, "column command to a closed bank", time)
                need(time >= col_pc + t["tCCD_S"], "tCCD_S", time)
                need(time >= col_bg[bg] + t["tCCD_L"], "tCCD_L", time)
                if cmd == RD:
                    need(time >= last_act[key] + t["tRCDRD"], "tRCDRD", time)
                    need(time >= wr_end_pc + t["tWTR_S"], "tWTR_S", time)
                    need(time >= wr_end_bg[bg] + t["tWTR_L"], "tWTR_L", time)
                    start = time + t["tCL"]
                    rd_pc = last_rd_bank[key] = time
                else:
                    need(time >= last_act[key] + t["tRCDWR"], "tRCDWR", time)
                    need(time >= rd_pc + t["tRTW"], "tRTW", time)
                    start = time + t["tCWL"]
                    end = start + burst_ps
                    wr_end_pc = max(wr_end_pc, end)
                    wr_end_bg[bg] = max(wr_end_bg[bg], end)
                    last_wr_end_bank[key] = max(last_wr_end_bank[key], end)
                data.append((start, start + burst_ps))
                col_pc = col_bg[bg] = time
            elif cmd == REF:
                need(not open_row, "REF with an open bank", time)
                for k in list(last_pre) + list(last_act):
                    need(time >= last_pre[k] + t["tRP"], "tRP before REF", time)
                    need(time >= last_act[k] + t["tRC"], "tRC before REF", time)
                need(time >= last_ref + t["tRFC"], "tRFC between REFs", time)
                last_ref = time
        data.sort()
        for (s0, e0), (s1, _) in zip(data, data[1:]):
            need(s1 >= e0, f"data bus overlap [{s0}, {e0}) and {s1}", s1)
    return errors
