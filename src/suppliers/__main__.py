from suppliers.cli import main

main()
