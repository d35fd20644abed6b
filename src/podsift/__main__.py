from podsift.cli import main

main()
