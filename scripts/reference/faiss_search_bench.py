#!/usr/bin/env python3
"""FAISS's figures on the vectors `landmark bench search --export-raw --data DIR` wrote.

Reads DIR/database.f32 and DIR/queries.f32 (raw float32, DIMENSION columns), builds the same factory
strings with FAISS (inner-product metric; product-quantised indexes get FAISS's flat refinement,
`IndexRefineFlat`, with k_factor = rerank / 100, which is what the Swift index's re-ranking of the
shortlist does), and prints one JSON object per index and search setting: build seconds, queries per
second at 1 and at all threads (best of two timed runs, every query in one batch), recall@1/10/100
against FAISS's exact flat index.

A reference tool (Debian's python3-faiss or the faiss-cpu wheel), never a runtime dependency.

    faiss_search_bench.py DIR DIMENSION --index IVF1024,PQ64 --index HNSW32 --nprobe 8,16 --ef-search 64,128 --rerank 256
"""
import argparse
import json
import os
import sys
import time

import faiss
import numpy as np


def timed_search(index, queries, k, threads):
    faiss.omp_set_num_threads(threads)
    best, result = float("inf"), None
    for _ in range(2):
        start = time.perf_counter()
        _, result = index.search(queries, k)
        best = min(best, time.perf_counter() - start)
    return len(queries) / best, result


def recall(found, truth, k):
    total = 0.0
    for hits, exact in zip(found, truth):
        expected = set(exact[:k].tolist())
        total += len(expected.intersection(hits[:k].tolist())) / len(expected)
    return total / len(truth)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("directory")
    parser.add_argument("dimension", type=int)
    parser.add_argument("--index", action="append", default=[])
    parser.add_argument("--nprobe", default="8,16,32,64")
    parser.add_argument("--ef-search", default="32,64,128,256")
    parser.add_argument("--rerank", type=int, default=256)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    arguments = parser.parse_args()
    database = np.fromfile(os.path.join(arguments.directory, "database.f32"), dtype=np.float32).reshape(-1, arguments.dimension)
    queries = np.fromfile(os.path.join(arguments.directory, "queries.f32"), dtype=np.float32).reshape(-1, arguments.dimension)
    faiss.omp_set_num_threads(arguments.threads)
    flat = faiss.IndexFlatIP(arguments.dimension)
    flat.add(database)
    one, truth = timed_search(flat, queries, 100, 1)
    everything, _ = timed_search(flat, queries, 100, arguments.threads)
    rows = [dict(factory="Flat", parameters={}, buildSeconds=0, queriesPerSecondOneThread=one,
                 queriesPerSecondAllThreads=everything, recallAt1=1, recallAt10=1, recallAt100=1)]
    for factory in arguments.index:
        faiss.omp_set_num_threads(arguments.threads)
        start = time.perf_counter()
        quantised = ",PQ" in factory.upper()
        index = faiss.index_factory(arguments.dimension, factory, faiss.METRIC_INNER_PRODUCT)
        if "IVF" in factory.upper():
            # Train the cells on 64 vectors per cell, as the Swift index does (FAISS's default is up to 256).
            faiss.extract_index_ivf(index).cp.max_points_per_centroid = 64
        if quantised:
            index = faiss.IndexRefineFlat(index)
        index.train(database)
        index.add(database)
        build = time.perf_counter() - start
        if "IVF" in factory.upper():
            settings = [dict(nprobe=int(p)) for p in arguments.nprobe.split(",")]
        else:
            settings = [dict(efSearch=int(e)) for e in arguments.ef_search.split(",")]
        for setting in settings:
            base = faiss.downcast_index(index.base_index) if quantised else index
            if "nprobe" in setting:
                faiss.extract_index_ivf(base).nprobe = setting["nprobe"]
            else:
                base.hnsw.efSearch = max(setting["efSearch"], 100)
            if quantised:
                index.k_factor = arguments.rerank / 100
                setting["rerank"] = arguments.rerank
            one, found = timed_search(index, queries, 100, 1)
            everything, _ = timed_search(index, queries, 100, arguments.threads)
            rows.append(dict(factory=factory, parameters=setting, buildSeconds=build, queriesPerSecondOneThread=one,
                             queriesPerSecondAllThreads=everything, recallAt1=recall(found, truth, 1),
                             recallAt10=recall(found, truth, 10), recallAt100=recall(found, truth, 100)))
            print(f"faiss {factory} {setting}: {one:.0f}/{everything:.0f} QPS, R@100 {rows[-1]['recallAt100']:.3f}", file=sys.stderr)
    print(json.dumps(dict(faiss=faiss.__version__, measurements=rows)))


if __name__ == "__main__":
    main()
