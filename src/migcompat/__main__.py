from migcompat.cli.main import main

main()
