from symtune.cli import main

main()
