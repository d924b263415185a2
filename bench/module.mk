BENCH_SRC += bench/rawcurl.c
