module floe/selftests/gotlsload

go 1.19
