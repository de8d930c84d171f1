module github.com/stagecraft-dev/stagecraft/test/harness

go 1.26.8
