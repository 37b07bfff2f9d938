from battletest.cli import main

main()
