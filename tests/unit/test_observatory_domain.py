"""The observatory's statistical secret: no hidden count of people can be recomputed from what is published."""
import itertools

from observatory.domain import TOTAL, suppression


def published(counts, hidden):
    return {key: value for key, value in counts.items() if key not in hidden}


def recoverable(counts, hidden) -> list:
    """Counts below the threshold (5) an attacker gets back exactly from what is published (a cell hidden
    only to protect another may come back, as long as it leads to no small count)."""
    return [key for key in _recovered(counts, hidden) if 0 < counts[key] < 5]


def _recovered(counts, hidden) -> list:
    """Hidden keys an attacker gets back exactly, repeating until nothing more comes back: a total minus
    every other member of it, or a hidden total as the sum of its members (the attacks secondary
    suppression must defeat)."""
    shown, found = set(published(counts, hidden)), []
    progress = True
    while progress:
        progress = False
        for key in counts:
            for position, value in enumerate(key):
                if value is TOTAL:
                    continue
                total = key[:position] + (TOTAL,) + key[position + 1:]
                members = [k for k in counts if k[position] is not TOTAL
                           and k[:position] + k[position + 1:] == key[:position] + key[position + 1:]]
                unknown = [k for k in members + [total] if k not in shown]
                if len(unknown) == 1:
                    shown.add(unknown[0])
                    found.append(unknown[0])
                    progress = True
    return found


def one_way(values: dict) -> dict:
    counts = {(v,): n for v, n in values.items()}
    counts[(TOTAL,)] = sum(values.values())
    return counts


def two_way(table: dict) -> dict:
    counts = dict(table)
    rows = {a for a, _ in table}
    cols = {b for _, b in table}
    for a in rows:
        counts[(a, TOTAL)] = sum(n for (x, _), n in table.items() if x == a)
    for b in cols:
        counts[(TOTAL, b)] = sum(n for (_, y), n in table.items() if y == b)
    counts[(TOTAL, TOTAL)] = sum(table.values())
    return counts


def test_a_count_below_the_threshold_is_hidden_with_a_second_cell_so_the_total_does_not_give_it_back():
    counts = one_way({"female": 3, "male": 40})
    hidden = suppression(counts, 5)
    assert ("female",) in hidden
    # without a second hidden cell, 43 - 40 = 3: the total and the other cell are not both published
    assert recoverable(counts, hidden) == []
    assert ("male",) in hidden or (TOTAL,) in hidden


def test_the_smallest_other_cell_is_the_one_hidden_and_the_total_stays_published():
    counts = one_way({"works": 2, "services": 12, "supplies": 30})
    hidden = suppression(counts, 5)
    assert hidden == {("works",), ("services",)}
    assert recoverable(counts, hidden) == []


def test_zeros_do_not_protect_a_hidden_cell_the_total_is_hidden_instead():
    counts = one_way({"female": 4, "male": 0})
    hidden = suppression(counts, 5)
    assert ("female",) in hidden and (TOTAL,) in hidden  # the total would be the hidden count itself
    assert recoverable(counts, hidden) == []


def test_counts_at_or_above_the_threshold_and_zeros_are_published():
    counts = one_way({"a": 5, "b": 0, "c": 17})
    assert suppression(counts, 5) == set()


def test_in_a_two_way_table_no_row_column_or_margin_gives_back_a_hidden_cell():
    table = {("works", "female"): 2, ("works", "male"): 30, ("services", "female"): 9, ("services", "male"): 14,
             ("supplies", "female"): 6, ("supplies", "male"): 1}
    counts = two_way(table)
    hidden = suppression(counts, 5)
    assert {("works", "female"), ("supplies", "male")} <= hidden
    assert recoverable(counts, hidden) == []


def test_many_random_tables_never_leak_a_hidden_cell():
    import random
    rng = random.Random(15)
    for _ in range(300):
        rows, cols = rng.randint(1, 4), rng.randint(1, 4)
        table = {(f"r{a}", f"c{b}"): rng.choice([0, 1, 2, 3, 4, 6, 9, 20]) for a, b in itertools.product(range(rows), range(cols))}
        counts = two_way(table)
        hidden = suppression(counts, 5)
        assert all(key in hidden for key, n in counts.items() if 0 < n < 5)
        assert recoverable(counts, hidden) == [], table


def test_a_higher_threshold_hides_more():
    counts = one_way({"a": 6, "b": 7, "c": 30})
    assert suppression(counts, 5) == set()
    assert {("a",), ("b",)} <= suppression(counts, 10)
