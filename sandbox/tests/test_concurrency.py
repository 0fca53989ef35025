"""Readers page customers over HTTP while the merchant writes: every answer stays consistent."""

import threading

PAGE = """query($after: String) { customers(first: 20, after: $after) {
  pageInfo { hasNextPage endCursor } nodes { id email tags numberOfOrders } } }"""


def test_pages_stay_consistent_under_concurrent_writes(sandbox_store):
    base = [
        sandbox_store.create_customer({"email": f"base{n}@example.com"})["id"] for n in range(60)
    ]
    sandbox_store.configure(bucketSize=1_000_000, restoreRate=1_000_000)
    problems: list = []
    stop = threading.Event()

    def reader():
        while not stop.is_set():
            after, seen = None, []
            while True:
                body = sandbox_store.graphql(PAGE, {"after": after})
                if "errors" in body:
                    problems.append(body["errors"])
                    return
                connection = body["data"]["customers"]
                seen += [node["id"] for node in connection["nodes"]]
                if not connection["pageInfo"]["hasNextPage"]:
                    break
                after = connection["pageInfo"]["endCursor"]
            numbers = [int(i.rsplit("/", 1)[1]) for i in seen]
            if numbers != sorted(set(numbers)):
                problems.append(("out of order or repeated", numbers))
            if not set(base[:30]) <= set(seen):  # never deleted: must always be there
                problems.append(("missing customers", set(base[:30]) - set(seen)))

    def writer():
        for n in range(40):
            created = sandbox_store.create_customer(
                {"email": f"new{n}@example.com", "tags": ["new"]}
            )
            sandbox_store.update_customer(base[30 + n % 30], {"tags": [f"t{n}"]})
            sandbox_store.place_order(created["id"])
            if n % 3 == 0:
                sandbox_store.delete_customer(created["id"])

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    writer_thread = threading.Thread(target=writer)
    writer_thread.start()
    writer_thread.join(timeout=120)
    stop.set()
    for thread in readers:
        thread.join(timeout=60)
    assert problems == []
    count = sandbox_store.graphql("{ customersCount { count } }")["data"]["customersCount"]["count"]
    assert count == 60 + 40 - 14
