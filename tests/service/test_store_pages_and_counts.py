"""The store's answers to what every list page asks, a sorted page and a count, are MongoDB's.

The local FerretDB hands both to PostgreSQL (deploy/local/ferretdb/topn-and-count-pushdown.patch) instead of
reading every matching document: these tests hold it to the answers of FerretDB's own, unpatched, way of
sorting and counting (a whole read sorted in memory; the documents counted one by one), on documents whose
sorted and filtered fields hold every kind of value, including the ones PostgreSQL cannot order as MongoDB
does (arrays, documents) and the ones its containment test confuses (an ObjectId whose hex form is the
string asked for)."""
import datetime
import itertools
import uuid

import pymongo
import pytest
from bson import ObjectId

HEX = "64b7f0c2a1b2c3d4e5f60718"
VALUES = [None, 3, 2.5, -1, 10 ** 12, "Zoé", "zoe", "Émile", "abc", "ab", "", True, False,
          datetime.datetime(2026, 3, 1), datetime.datetime(2025, 12, 31, 23, 59), ObjectId(HEX), ObjectId()]
MIXED = [[3, "b"], {"a": 1}, ["z"], []]


@pytest.fixture
def collection(infra):
    client = pymongo.MongoClient(infra.mongodb_url)
    database = client[f"test_pages_{uuid.uuid4().hex[:8]}"]
    yield database.items
    client.drop_database(database.name)
    client.close()


def insert(collection, values, extra=()):
    """Two documents per value (ties), some without the field at all, in a shuffled order."""
    docs = [{"_id": f"{i:03d}", "group": "g" if i % 5 else "h", "kind": ["x", "y"][i % 2], "rank": value,
             "n": i % 7, "tags": ["aude", "herault"][: 1 + i % 2]}
            for i, value in enumerate([*values, *values, *extra])]
    docs += [{"_id": f"m{i}", "group": "g", "kind": "x", "n": i} for i in range(3)]
    collection.insert_many(sorted(docs, key=lambda doc: hash(doc["_id"]) % 97))
    return docs


def pages(collection, query, sort, size):
    """Every page of a paged list, as the services ask them (skip and limit)."""
    found, skip = [], 0
    while batch := list(collection.find(query, {"_id": 1}).sort(sort).skip(skip).limit(size)):
        found.append([doc["_id"] for doc in batch])
        skip += size
    return found


@pytest.mark.parametrize("extra", [(), MIXED], ids=["scalars", "with-arrays-and-documents"])
@pytest.mark.parametrize("sort", [[("rank", 1), ("_id", 1)], [("rank", -1), ("_id", 1)],
                                  [("n", 1), ("rank", -1), ("_id", -1)]])
def test_the_pages_of_a_sorted_list_are_the_whole_sorted_list_cut_in_pages(collection, sort, extra):
    insert(collection, VALUES, extra)
    for query in ({"group": "g"}, {"kind": {"$in": ["x"]}}, {}, {"group": "g", "n": {"$gt": 2}},
                  {"rank": {"$type": "string"}}, {"tags": "herault"}, {"rank": {"$gte": "Zoé", "$lt": "zz"}},
                  {"rank": {"$lte": datetime.datetime(2026, 1, 1)}}, {"tags": {"$nin": ["aude"]}},
                  {"rank": {"$nin": ["abc", HEX]}, "n": {"$lte": 4}},
                  {"$and": [{"group": "g"}, {"n": {"$gte": 2}}, {"$or": [{"kind": "x"}, {"rank": {"$lt": 3}}]}]},
                  {"$or": [{"group": "h"}, {"rank": {"$gt": "a"}}, {"tags.0": "aude"}]}):
        whole = [doc["_id"] for doc in collection.find(query, {"_id": 1}).sort(sort)]  # sorted in memory
        assert [doc_id for page in pages(collection, query, sort, size=4) for doc_id in page] == whole, query
        for skip, limit in ((0, 1), (3, 5), (len(whole) - 2, 10)):
            cut = [doc["_id"] for doc in collection.find(query, {"_id": 1}).sort(sort).skip(skip).limit(limit)]
            assert cut == whole[skip:skip + limit], (query, sort, skip, limit)


def test_pages_sorted_by_a_field_with_ties_neither_repeat_nor_miss_a_document(collection):
    docs = insert(collection, VALUES)
    paged = [doc_id for page in pages(collection, {}, [("group", 1)], size=3) for doc_id in page]
    assert sorted(paged) == sorted(doc["_id"] for doc in docs)
    groups = [collection.find_one({"_id": doc_id})["group"] for doc_id in paged]
    assert groups == sorted(groups)


def test_a_page_sorted_by_text_follows_code_points_as_mongodb_does(collection):
    insert(collection, ["b", "a", "B", "É", "e", "é", "ab", "a b"])
    first = [doc["rank"] for doc in collection.find({"rank": {"$exists": True}}).sort("rank", 1).limit(6)]
    assert first == ["B", "B", "a", "a", "a b", "a b"]


def test_counts_are_the_number_of_documents_a_find_returns(collection):
    insert(collection, [*VALUES, HEX, [HEX, "abc"], [ObjectId(HEX)], ["abc", ObjectId(HEX)]])
    queries = [{"rank": HEX}, {"rank": "abc"}, {"rank": {"$eq": "Zoé"}}, {"rank": {"$in": ["abc", HEX]}},
               {"rank": {"$ne": "abc"}}, {"rank": {"$ne": HEX}}, {"group": "g"}, {"group": "g", "kind": "y"},
               {"tags": "herault"}, {"tags": {"$in": ["aude", "gard"]}}, {"tags": {"$ne": "aude"}},
               {"group": "none"}, {"_id": {"$in": ["001", "002", "m1", "nope"]}}, {"n": 3}, {"rank": None},
               {"group": "g", "rank": {"$exists": True}}, {"rank": {"$gt": "ab"}}, {"rank": {"$gte": "Zoé", "$lt": "zz"}},
               {"rank": {"$lt": datetime.datetime(2026, 1, 1)}}, {"rank": {"$gte": datetime.datetime(2025, 1, 1)}},
               {"n": {"$gte": 3}}, {"rank": {"$nin": ["abc", HEX]}}, {"tags": {"$nin": ["aude"]}},
               {"group": "g", "rank": {"$nin": [HEX]}, "kind": {"$ne": "x"}}, {"rank": {"$lte": 3}},
               {"$and": [{"group": "g"}, {"group": {"$ne": "h"}}, {"rank": {"$gte": "a"}}]},
               {"$and": [{"kind": "x"}, {"$or": [{"n": 1}, {"rank": {"$lt": 2.6}}]}]},
               {"$or": [{"kind": "x"}, {"tags.1": "herault"}]}, {"$and": [{"tags": HEX}, {"kind": "y"}]}]
    for query in queries:
        assert collection.count_documents(query) == len(list(collection.find(query))), query
    assert collection.count_documents({"group": "none"}) == 0


def test_a_count_by_a_string_does_not_count_an_object_id_with_that_hex_form(collection):
    collection.insert_many([{"_id": "a", "ref": HEX}, {"_id": "b", "ref": ObjectId(HEX)},
                            {"_id": "c", "ref": [ObjectId(HEX)]}, {"_id": "d", "ref": [HEX, "x"]}])
    assert collection.count_documents({"ref": HEX}) == 2
    assert collection.count_documents({"ref": ObjectId(HEX)}) == 2
    assert collection.count_documents({"ref": {"$ne": HEX}}) == 2
    assert collection.count_documents({"ref": {"$nin": [HEX]}}) == 2
    assert collection.count_documents({"ref": {"$gte": HEX}}) == 2


def test_the_counting_shortcut_keeps_what_count_documents_answers_with_skip_and_limit(collection):
    insert(collection, VALUES)
    total = collection.count_documents({"group": "g"})
    assert total > 10
    assert collection.count_documents({"group": "g"}, skip=3) == total - 3
    assert collection.count_documents({"group": "g"}, limit=5) == 5
    assert list(itertools.islice(collection.aggregate([{"$match": {"group": "g"}},
                                                       {"$group": {"_id": None, "total": {"$sum": 1}}}]), 2)) == \
        [{"_id": None, "total": total}]
