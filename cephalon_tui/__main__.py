from cephalon_tui.cli import main

main()
