module gopipebench

go 1.19
